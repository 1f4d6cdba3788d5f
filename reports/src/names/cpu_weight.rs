//! Metric, series and check names of the cpu_weight scenario: the one spelling
//! the scenario, the plots and the fixtures share.
