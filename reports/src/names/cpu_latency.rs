//! Metric, series and check names of the cpu_latency scenario: the one spelling
//! the scenario, the plots and the fixtures share.
