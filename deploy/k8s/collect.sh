#!/usr/bin/env bash
# Collects one results file per node from the isobench DaemonSet or Job:
#   deploy/k8s/collect.sh [daemonset|job] [DIR]
# writes DIR/<node>.json (default DIR: fleet-results) from each pod's
# `results` container log (it prints the node's results JSON once), and
# names the pods whose log is not results JSON (still running, failed).
set -euo pipefail
kind=${1:-daemonset}
dir=${2:-fleet-results}
case $kind in
    daemonset) label=app.kubernetes.io/name=isobench ;;
    job) label=app.kubernetes.io/name=isobench-job ;;
    *) echo "usage: $0 [daemonset|job] [DIR]" >&2; exit 2 ;;
esac
mkdir -p "$dir"
bad=0
while read -r pod node; do
    [ -n "$pod" ] || continue
    out="$dir/$node.json"
    if kubectl -n isobench logs "$pod" -c results > "$out.tmp" 2>/dev/null &&
        grep -q '"schema": "isobench/1"' "$out.tmp"; then
        mv "$out.tmp" "$out"
        echo "$node: $out"
    else
        rm -f "$out.tmp"
        echo "$node: no results yet from pod $pod (kubectl -n isobench describe pod $pod)" >&2
        bad=1
    fi
done < <(kubectl -n isobench get pods -l "$label" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.nodeName}{"\n"}{end}')
exit $bad
