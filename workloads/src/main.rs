//! `isobench-workload`: the tiny static program isobench runs inside sandboxes.

fn main() {
    std::process::exit(isobench_workload::run(std::env::args().skip(1).collect()))
}
