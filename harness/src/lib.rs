//! isobench: benchmark and verify Linux isolation and resource limits.

pub mod cgroup;
pub mod cli;
pub mod env;
pub mod interrupt;
pub mod launchers;
pub mod loopdev;
pub mod lxcfs;
pub mod monitor;
pub mod procfs;
pub mod run;
pub mod sandbox;
pub mod scenarios;
pub mod suite;
pub mod vm;
