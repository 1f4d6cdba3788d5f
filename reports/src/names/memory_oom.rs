//! Metric, series and check names of the memory_oom scenario: the one spelling
//! the scenario, the plots and the fixtures share.
