#!/usr/bin/env bash
# Measures the regression gate itself on this machine (needs root):
#   ci/gate-check.sh same-build N   N quick runs of one build, every pair compared
#                                   file to file with the default gate: false alarms
#   ci/gate-check.sh calibrate N    N quick runs, then `isobench calibrate` -> DIR/gate.toml
#   ci/gate-check.sh arms N         N interleaved runs (ci/suites/ab.toml, 6 rounds),
#                                   the same launcher as both arms: false alarms
#   ci/gate-check.sh slow N         N interleaved startup runs, NEW arm doing real extra
#                                   work before exec: detections (and its measured slowdown)
#   ci/gate-check.sh copies FILE    a ×1.5-scaled copy of FILE, and a copy whose cpu-quota
#                                   accuracy samples move 4 points away from 1.0
# Results and logs go to $GATE_CHECK_DIR (default ./gate-check). Each phase prints
# one summary line "<phase>: X of Y ..." at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ISOBENCH:-target/release/isobench}
dir=${GATE_CHECK_DIR:-gate-check}
mkdir -p "$dir"
phase=${1:?usage: ci/gate-check.sh same-build|calibrate|arms|slow|copies ARG}
arg=${2:-}
gate_args=()
[ -n "${GATE:-}" ] && gate_args=(--gate "$GATE")

quick_runs() { # prefix count
    for i in $(seq -w 1 "$2"); do
        "$bin" run --suite quick -o "$dir/$1$i.json" >"$dir/$1$i.log" 2>&1 || true
    done
}

case "$phase" in
same-build)
    quick_runs sb "${arg:-8}"
    files=("$dir"/sb*.json); pairs=0; flagged=0
    for ((i = 0; i < ${#files[@]}; i++)); do
        for ((j = i + 1; j < ${#files[@]}; j++)); do
            pairs=$((pairs + 1))
            if ! "$bin" compare "${gate_args[@]}" "${files[i]}" "${files[j]}" >"$dir/sb-pair-$i-$j.md" 2>"$dir/sb-pair-$i-$j.err"; then
                flagged=$((flagged + 1))
                echo "flagged: ${files[i]} ${files[j]}: $(head -1 "$dir/sb-pair-$i-$j.err")"
            fi
        done
    done
    echo "same-build: $flagged of $pairs pairs flagged"
    ;;
calibrate)
    quick_runs cal "${arg:-8}"
    "$bin" calibrate "${gate_args[@]}" "$dir"/cal*.json -o "$dir/gate.toml"
    ;;
arms)
    n=${arg:-20}; flagged=0
    for i in $(seq -w 1 "$n"); do
        "$bin" run --suite ci/suites/ab.toml --rounds 6 --launcher base=native --launcher new=native \
            -o "$dir/arms$i.json" >"$dir/arms$i.log" 2>&1 || true
        if ! "$bin" compare "${gate_args[@]}" "$dir/arms$i.json" --base-arm base --new-arm new \
            >"$dir/arms$i.md" 2>"$dir/arms$i.err"; then
            flagged=$((flagged + 1))
            echo "flagged: arms$i: $(head -1 "$dir/arms$i.err")"
        fi
    done
    echo "arms: $flagged of $n equal-arm runs flagged"
    ;;
slow)
    n=${arg:-10}; detected=0
    # The NEW arm really does more before exec: a shell loop (no sleep, no
    # scaled numbers), on top of the same `sh -c ... exec` as BASE.
    work=${SLOW_LOOP:-250}
    for i in $(seq -w 1 "$n"); do
        "$bin" run --suite ci/suites/ab.toml --scenario startup --rounds 6 \
            --launcher 'base=custom:exec {workload}' \
            --launcher "new=custom:i=0; while [ \$i -lt $work ]; do i=\$((i+1)); done; exec {workload}" \
            -o "$dir/slow$i.json" >"$dir/slow$i.log" 2>&1 || true
        if "$bin" compare "${gate_args[@]}" "$dir/slow$i.json" --base-arm base --new-arm new \
            >"$dir/slow$i.md" 2>"$dir/slow$i.err"; then
            echo "missed: slow$i"
        else
            detected=$((detected + 1))
        fi
        python3 - "$dir/slow$i.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
med = {}
for s in r["scenarios"]:
    for m in s["metrics"]:
        if s["name"] == "startup" and m["name"] == "ready":
            med.setdefault(s["launcher"], []).append(statistics.median(m["samples"]))
b, n = statistics.median(med["base"]), statistics.median(med["new"])
print(f"  {sys.argv[1]}: ready base {b*1e3:.3f} ms, new {n*1e3:.3f} ms, new/base {n/b:.2f}")
PY
    done
    echo "slow: $detected of $n slower-arm runs flagged"
    ;;
copies)
    f=${arg:?copies needs a results FILE}
    python3 - "$f" "$dir/scaled.json" "$dir/accuracy4.json" <<'PY'
import json, sys
src, scaled, acc = sys.argv[1:4]
r = json.load(open(src))
for s in r["scenarios"]:
    for m in s["metrics"]:
        m["samples"] = [x * 1.5 for x in m["samples"]]
        m.pop("summary", None)
json.dump(r, open(scaled, "w"))
r = json.load(open(src))
for s in r["scenarios"]:
    for m in s["metrics"]:
        if s["name"] == "cpu-quota" and m["name"] == "accuracy":
            m["samples"] = [1.0 - 0.04 if x <= 1.0 else 1.0 + 0.04 for x in m["samples"]]
            m.pop("summary", None)
json.dump(r, open(acc, "w"))
PY
    for copy in scaled accuracy4; do
        if "$bin" compare "${gate_args[@]}" "$f" "$dir/$copy.json" >"$dir/$copy.md" 2>"$dir/$copy.err"; then
            echo "copies: $copy NOT flagged"
        else
            echo "copies: $copy flagged ($(grep -c 'regression:' "$dir/$copy.err") regressions; first: $(head -1 "$dir/$copy.err"))"
        fi
    done
    ;;
*)
    echo "unknown phase $phase" >&2
    exit 2
    ;;
esac
