//! Metric, series and check names of the memory_high scenario: the one spelling
//! the scenario, the plots and the fixtures share.
