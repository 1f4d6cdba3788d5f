//! isobench: benchmark and verify Linux isolation and resource limits.

pub mod cgroup;
pub mod sandbox;
