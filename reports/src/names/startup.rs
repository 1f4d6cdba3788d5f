//! Metric, series and check names of the startup scenario: the one spelling
//! the scenario, the plots and the fixtures share.
