#!/usr/bin/env bash
# A simulated fleet without a cluster: this host plus four VM guests as
# nodes (kernels 6.1 and 6.12, cgroup v1 and v2), each running the same
# small suite, merged by `isobench merge`. Run as root from the repository:
#   ci/fleet-sim.sh [DIR [SCENARIO...]]
# (default DIR: fleet-sim; default scenarios: startup pids, whose checks
# hold under TCG; `cpu-quota cpuset memory-oom` once gave a fleet with
# failing checks under TCG, and on 2026-12-01 passed on all five nodes).
# Each guest gets its node name through the VM runner ($NODE_NAME on the
# host becomes isobench.node= on the guest's command line). TCG guests
# take about a minute each; they boot one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-fleet-sim}
bin=${ISOBENCH:-target/release/isobench}
shift || true
# Quick-suite scenarios that finish in well under two minutes under TCG.
suite=(run --suite quick)
for s in "${@:-startup pids}"; do
    for w in $s; do suite+=(--scenario "$w"); done
done
mkdir -p "$dir"
"$bin" kernels fetch --version 6.1 --version 6.12 >/dev/null
status=0
NODE_NAME=host "$bin" "${suite[@]}" -o "$dir/host.json" >"$dir/host.log" 2>&1 || status=$?
echo "host: exit $status ($dir/host.json)"
for kc in 6.1:v1 6.1:v2 6.12:v1 6.12:v2; do
    k=${kc%:*} c=${kc#*:} n=node-$k-$c
    rc=0
    NODE_NAME=$n "$bin" vm --kernel "$k" --cgroup "$c" --timeout 300 -o "$dir/$n.json" \
        -- "${suite[@]}" >"$dir/$n.log" 2>&1 || rc=$?
    echo "$n: exit $rc ($dir/$n.json)"
done
rc=0
"$bin" merge "$dir"/host.json "$dir"/node-*.json -o "$dir/fleet.json" --out "$dir" \
    --expect-nodes host,node-6.1-v1,node-6.1-v2,node-6.12-v1,node-6.12-v2 || rc=$?
echo "merge: exit $rc"
exit $rc
