#!/bin/bash
# Undo benchmarks/baseline_serial.sh PREFIX: stop exactly the daemons it started (by their
# pidfiles, and only if that PID still lives in one of its namespaces), delete exactly the
# namespaces it recorded, then its directory. Safe to run twice.
#
#   benchmarks/baseline_cleanup.sh PREFIX
set -uo pipefail

if [[ $# -ne 1 || ! $1 =~ ^[a-z][a-z0-9-]{0,7}$ ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
P=$1
WORK=${TMPDIR:-/tmp}/$P.baseline
[[ -d $WORK ]] || exit 0

# netns inode -> recorded namespace, to check that a pidfile's PID is still ours
declare -A ours
while read -r ns; do
    ino=$(stat -L -c %i "/run/netns/$ns" 2>/dev/null) && ours[$ino]=$ns
done < <(cat "$WORK/netns" 2>/dev/null)

pids=()
for pidfile in "$WORK"/*/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(<"$pidfile")
    ino=$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) || continue
    [[ -n ${ours[$ino]:-} ]] && pids+=("$pid")
done

if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 50); do  # up to 5 s
        alive=()
        for pid in "${pids[@]}"; do
            [[ -d /proc/$pid ]] && alive+=("$pid")
        done
        ((${#alive[@]})) || break
        sleep 0.1
    done
    ((${#alive[@]})) && kill -KILL "${alive[@]}" 2>/dev/null
fi

status=0
while read -r ns; do
    if [[ -e /run/netns/$ns ]]; then
        ip netns delete "$ns" || status=3
    fi
done < <(tac "$WORK/netns" 2>/dev/null)
((status == 0)) && rm -rf "$WORK"
exit $status
