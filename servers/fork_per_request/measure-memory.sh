#!/usr/bin/env bash
# Sums RSS and PSS over a server process and all its descendants, from /proc/PID/smaps_rollup.
# RSS counts every page a process maps once per process that maps it; PSS divides each shared
# page among the processes sharing it, so PSS sums to the memory really used. After fork, parent
# and children share their pages copy-on-write: the sum of RSS overstates, the sum of PSS does not.
#
#   usage: measure-memory.sh PID        (the `lab serve` parent)
#   e.g.:  lab serve --model fork_per_request --addr 127.0.0.1:8090 &
#          (open 100 idle keep-alive connections, e.g. with `lab run` or a script)
#          servers/fork_per_request/measure-memory.sh $!
set -euo pipefail
root=$1
tree() {
    echo "$1"
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$child"; done
}
pids=$(tree "$root")
awk '/^Rss:/ {rss += $2} /^Pss:/ {pss += $2} END {
        printf "%d processes: RSS sum %.1f MiB, PSS sum %.1f MiB\n", n, rss / 1024, pss / 1024
    }' n="$(echo "$pids" | wc -l)" $(for p in $pids; do echo /proc/"$p"/smaps_rollup; done)
