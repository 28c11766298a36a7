#!/usr/bin/env bash
# The measurements of issue 13 (the hot path at the kernel's limit), in one run, each a ratio of
# two servers measured alternately (A B A B ..., a fresh server per run) so that drift on a shared
# machine falls on both sides alike. Prints a Markdown table (stdout, and DIR/table.md) and keeps
# every run's figures in DIR/runs.tsv.
#
#   benches/hotpath.sh [--quick] [--lab PATH] [--before PATH --after PATH] [options]
#
# Steps (--steps, default all):
#   pipeline   wrk -t1 -c100 -s benches/wrk/pipeline.lua (16 requests per write):
#              `lab serve --model epoll --loops 1` vs may_minihttp with one worker
#              (benches/peers/may_minihttp, built here from crates.io), and the no-HTTP ceiling
#              (examples/ceiling.rs) beside them as the bound on what any server can gain there;
#              then the same three under `lab load -t1 -c100 --pipeline 16`, which spends less
#              CPU per request than wrk, so the servers come nearer their own limit (wrk's one
#              thread is the limit first)
#   keepalive  wrk -t1 -c100 keep-alive: epoll --loops 1 vs the no-HTTP ceiling
#              (examples/ceiling.rs) and vs nginx (benches/wrk/nginx.conf: one worker,
#              `return 200`, no access log), in throughput and in requests per server CPU-second
#   unix       `lab load -t1 -c100` over a Unix socket vs over TCP, epoll --loops 1, keep-alive
#              and 16 deep pipelined (skipped when the lab binary's serve has no
#              `--addr unix:PATH` or its load no `unix:PATH:/route`)
#   models     every model's plaintext throughput, wrk -t1 -c100 keep-alive, default flags,
#              the --before binary vs the --after binary (skipped without --before)
#
# Options:
#   --quick            2 s runs, 2 rounds (about 2 to 3 minutes)
#   -d, --duration S   seconds per measured run (default 4)
#   --rounds N         A B pairs per comparison (default 5; the models step uses --model-rounds)
#   --model-rounds N   before/after pairs per model (default 3)
#   --warmup S         an unmeasured wrk run of S seconds before each measured one (default 1; 0: none)
#   --lab PATH         the lab binary for the first three steps (default: --after if given, else
#                      target/release/lab, built here)
#   --before PATH, --after PATH   the two lab binaries the models step compares
#   --steps LIST       comma-separated subset of pipeline,keepalive,unix,models
#   --server-cpu N, --load-cpu N  taskset CPUs (default 0 and 1)
#   --out DIR          where table.md and runs.tsv go (default results/hotpath-<UTC time>)
#   --nice N           run servers and load generators at this nice value, and their
#                      autogroups too (e.g. -10, as root): on a machine busy with builds the
#                      measured pair then gets most of its CPUs (default 0: no change)
#   --no-build         use the binaries as they are (default: cargo builds lab, the ceiling
#                      example and the may_minihttp peer, a no-op when up to date)
#
# Needs wrk and nginx on the PATH (apt-get install wrk nginx), taskset (util-linux), awk, and
# network access to crates.io the first time (the may_minihttp peer's dependencies). Linux only.
# Server CPU time is utime+stime (+ cutime+cstime of reaped children) of the server's process
# tree, read from /proc/PID/stat just before and just after the measured wrk run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=4
ROUNDS=5
MODEL_ROUNDS=3
WARMUP=1
LAB=""
BEFORE=""
AFTER=""
STEPS="pipeline,keepalive,unix,models"
SCPU=0
LCPU=1
OUT=""
BUILD=1
CONNS=100
NICE=0

die() { echo "hotpath.sh: $*" >&2; exit 2; }
say() { echo "$*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) DURATION=2; ROUNDS=2; MODEL_ROUNDS=2; shift ;;
        -d|--duration) DURATION=${2:?}; shift 2 ;;
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --model-rounds) MODEL_ROUNDS=${2:?}; shift 2 ;;
        --warmup) WARMUP=${2:?}; shift 2 ;;
        --lab) LAB=${2:?}; shift 2 ;;
        --before) BEFORE=${2:?}; shift 2 ;;
        --after) AFTER=${2:?}; shift 2 ;;
        --steps) STEPS=${2:?}; shift 2 ;;
        --server-cpu) SCPU=${2:?}; shift 2 ;;
        --load-cpu) LCPU=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --nice) NICE=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ "$NICE" =~ ^-?[0-9]+$ ]] || die "--nice: expected a whole number, got '$NICE'"
for n in "$DURATION" "$ROUNDS" "$MODEL_ROUNDS" "$WARMUP" "$SCPU" "$LCPU"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
[ "$DURATION" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$MODEL_ROUNDS" -ge 1 ] || die "--duration and --rounds must be at least 1"
has_step() { [[ ",$STEPS," == *",$1,"* ]]; }
for s in ${STEPS//,/ }; do
    case "$s" in pipeline|keepalive|unix|models) ;; *) die "--steps: unknown step '$s' (pipeline,keepalive,unix,models)" ;; esac
done
if [ -n "$BEFORE" ] || [ -n "$AFTER" ]; then
    [ -n "$BEFORE" ] && [ -n "$AFTER" ] || die "--before and --after go together"
    [ -x "$BEFORE" ] || die "--before $BEFORE: not an executable"
    [ -x "$AFTER" ] || die "--after $AFTER: not an executable"
fi
[ -z "$LAB" ] && [ -n "$AFTER" ] && LAB=$AFTER
for tool in taskset awk curl; do command -v "$tool" >/dev/null || die "$tool not found"; done
if has_step pipeline || has_step keepalive || has_step models; then
    command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
fi
if has_step keepalive; then
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx not found (apt-get install nginx)"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ncpu=$(nproc --all)
[ "$SCPU" -lt "$ncpu" ] && [ "$LCPU" -lt "$ncpu" ] || die "this machine has CPUs 0-$((ncpu - 1))"

# --- build ------------------------------------------------------------------------------------
CEILING=$ROOT/target/release/examples/ceiling
PEER=$ROOT/target/peers/release/may-minihttp-peer
if [ "$BUILD" = 1 ]; then
    if [ -z "$LAB" ] || [ "$(realpath -m "$LAB")" = "$(realpath -m "$ROOT/target/release/lab")" ]; then
        say "building lab and the ceiling example (cargo build --release)"
        (cd "$ROOT" && cargo build --release --quiet --bin lab --example ceiling)
    elif has_step keepalive || has_step pipeline; then
        say "building the ceiling example (cargo build --release --example ceiling)"
        (cd "$ROOT" && cargo build --release --quiet --example ceiling)
    fi
    if has_step pipeline; then
        say "building the may_minihttp peer (benches/peers/may_minihttp, from crates.io)"
        cargo build --release --quiet --manifest-path "$ROOT/benches/peers/may_minihttp/Cargo.toml" \
            --target-dir "$ROOT/target/peers"
    fi
fi
[ -z "$LAB" ] && LAB=$ROOT/target/release/lab
[ -x "$LAB" ] || die "no lab binary at $LAB (build it, or give --lab)"
{ has_step keepalive || has_step pipeline; } && { [ -x "$CEILING" ] || die "no ceiling example at $CEILING"; }
has_step pipeline && { [ -x "$PEER" ] || die "no may_minihttp peer at $PEER"; }

[ -z "$OUT" ] && OUT=$ROOT/results/hotpath-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/hotpath.XXXXXX)
RUNS=$OUT/runs.tsv
printf 'step\tround\tsubject\treq_per_s\tserver_cpu_s\terrors\tserver_user_s\n' >"$RUNS"
TICK=$(getconf CLK_TCK)

# Servers and load generators each run in a session of their own (setsid), which with the
# kernel's autogroup scheduling is a scheduling group of their own: `nice` only ranks tasks within
# a group, so --nice sets the group's nice too (/proc/self/autogroup), then the process's.
PRIO=()
if [ "$NICE" != 0 ]; then
    # shellcheck disable=SC2016 # expanded by that sh
    PRIO=(sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null || true; exec nice -n "$0" "$@"' "$NICE")
fi

# --- servers ----------------------------------------------------------------------------------
SERVER_PID=""

# The server's process group (setsid: a background child of this script leads no group, so
# setsid execs in place and the group id is the server's pid).
stop_server() {
    local pid=$SERVER_PID
    [ -n "$pid" ] || return 0
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
        local state
        state=$(awk '{sub(/^[0-9]+ \(.*\) /, ""); print $1}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        if [ "$state" = gone ] || [ "$state" = Z ]; then break; fi
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port below the kernel's ephemeral range (wrk's own connections take ports from that range,
# and a port one of them holds cannot be bound), that nothing answers on.
PORT_LOW=10000
PORT_HIGH=$(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768) - 1))
[ "$PORT_HIGH" -gt $((PORT_LOW + 1000)) ] || PORT_HIGH=$((PORT_LOW + 20000))
free_port() {
    local p
    while :; do
        p=$((PORT_LOW + (RANDOM * 32768 + RANDOM) % (PORT_HIGH - PORT_LOW)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
}

# start_server NAME WAIT_FOR CMD...: starts CMD on the server CPU; WAIT_FOR is tcp:PORT or
# unix:PATH, reachable within 10 s or the start failed (returns 1, the output in $TMP/NAME.log).
start_server() {
    local name=$1 ready=$2
    shift 2
    setsid "${PRIO[@]}" taskset -c "$SCPU" "$@" >"$TMP/$name.log" 2>&1 &
    SERVER_PID=$!
    local i
    for i in $(seq 1 100); do
        case "$ready" in
            tcp:*) if (exec 3<>"/dev/tcp/127.0.0.1/${ready#tcp:}") 2>/dev/null; then return 0; fi ;;
            unix:*) if [ -S "${ready#unix:}" ] && grep -q "listening on" "$TMP/$name.log"; then return 0; fi ;;
        esac
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    stop_server
    return 1
}

# CPU ticks of a process and all its descendants: "ALL USER", ALL = utime+stime+cutime+cstime
# and USER = utime+cutime (user space only; ALL - USER is the kernel's share).
tree_ticks() {
    # cat, not awk's own file list: a process that exits between the glob and the read is skipped.
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
        {
            line = $0; pid = $1
            sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " ")
            parent[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]; user[pid] = f[12] + f[14]
        }
        END {
            want[root] = 1; grew = 1
            while (grew) { grew = 0; for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; grew = 1 } }
            for (p in want) { total += ticks[p]; utotal += user[p] }
            print total + 0, utotal + 0
        }'
}

# --- load -------------------------------------------------------------------------------------
# Each sets RPS (requests per second, NA if none), ERR (failed requests and socket errors) and
# T0, T1 (the server tree's CPU ticks around the measured run) and U0, U1 (their user-space
# part); the output is in $TMP/last.out.
wrk_run() { # URL [LUA]
    local url=$1 lua=${2:-} args=()
    [ -n "$lua" ] && args=(-s "$lua")
    if [ "$WARMUP" -gt 0 ]; then
        timeout $((WARMUP + 15)) setsid -w "${PRIO[@]}" taskset -c "$LCPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${args[@]}" "$url" >/dev/null 2>&1 || true
    fi
    read -r T0 U0 < <(tree_ticks "$SERVER_PID")
    timeout $((DURATION + 15)) setsid -w "${PRIO[@]}" taskset -c "$LCPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" "${args[@]}" "$url" >"$TMP/last.out" 2>&1 || true
    read -r T1 U1 < <(tree_ticks "$SERVER_PID")
    parse_load
}
labload_run() { # TARGET (http://... or unix:PATH:/route) [DEPTH: requests in flight per connection]
    local target=$1 depth=${2:-1}
    if [ "$WARMUP" -gt 0 ]; then
        timeout $((WARMUP + 15)) setsid -w "${PRIO[@]}" taskset -c "$LCPU" "$LAB" load -t1 -c"$CONNS" --pipeline "$depth" -d"${WARMUP}s" -q "$target" >/dev/null 2>&1 || true
    fi
    read -r T0 U0 < <(tree_ticks "$SERVER_PID")
    timeout $((DURATION + 20)) setsid -w "${PRIO[@]}" taskset -c "$LCPU" "$LAB" load -t1 -c"$CONNS" --pipeline "$depth" -d"${DURATION}s" -q "$target" >"$TMP/last.out" 2>&1 || true
    read -r T1 U1 < <(tree_ticks "$SERVER_PID")
    parse_load
}
# wrk's and lab load's summaries alike: "Requests/sec: N", "Socket errors: connect N (...), read N,
# write N, timeout N[, closed N]", "Non-2xx or 3xx responses: N".
parse_load() {
    read -r RPS ERR < <(awk '
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ {
            gsub(/\([^)]*\)/, ""); gsub(/,/, "")
            for (i = 1; i < NF; i++) if ($i ~ /^(connect|read|write|timeout|closed)$/) e += $(i + 1)
        }
        /Non-2xx or 3xx responses:/ { e += $5 }
        END { printf "%s %d\n", (rps == "" ? "NA" : rps), e }' "$TMP/last.out")
}
ns() { awk -v v="$1" 'BEGIN { if (v == "NA") print "n/a"; else printf "%.0f", v }'; }
ticks_s() { awk -v a="$1" -v b="$2" -v t="$TICK" 'BEGIN { printf "%.3f", (b - a) / t }'; } # FROM TO: seconds

record() { # STEP ROUND SUBJECT RPS CPU ERRORS USER_CPU
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RUNS"
    say "  $(printf '%-10s round %s  %-28s %12s req/s  server CPU %6s s  errors %s  (user %s s)' "$@")"
}

# --- summaries --------------------------------------------------------------------------------
# The awk functions median and ratio share (d: the run's duration). val(c): column c of a
# runs.tsv line (4: req/s, 5: CPU s), or a figure derived from it (7: requests per server
# CPU-second, req/s x duration / CPU s; 8 and 9: the server's user-space and kernel nanoseconds
# of CPU per request), "NA" where it has none. sorted_median(x, n): sorts x[0..n) in place and
# returns its median.
FIGURES_AWK='
    function val(c) {
        if (c == 7) return $5 > 0 ? $4 * d / $5 : "NA"
        if (c == 8) return $4 > 0 ? $7 / ($4 * d) * 1e9 : "NA"
        if (c == 9) return $4 > 0 ? ($5 - $7) / ($4 * d) * 1e9 : "NA"
        return $c
    }
    function sorted_median(x, n,    i, j, t) {
        for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
        return (n % 2) ? x[int(n / 2)] : (x[n / 2 - 1] + x[n / 2]) / 2
    }'
# median STEP SUBJECT [COLUMN]: the median of a column or figure (see val above; default 4).
median() {
    awk -F'\t' -v s="$1" -v subj="$2" -v c="${3:-4}" -v d="$DURATION" "$FIGURES_AWK"'
        NR > 1 && $1 == s && $3 == subj && $4 != "NA" {
            v = val(c)
            if (v != "NA") x[n++] = v
        }
        END {
            if (n == 0) { print "NA"; exit }
            print sorted_median(x, n)
        }' "$RUNS"
}
# ratio STEP A B [COLUMN]: "median (min–max)" of A/B taken round by round (each pair measured
# back to back), over the rounds where both have a figure.
ratio() {
    awk -F'\t' -v s="$1" -v a="$2" -v b="$3" -v c="${4:-4}" -v d="$DURATION" "$FIGURES_AWK"'
        NR > 1 && $1 == s && $4 != "NA" {
            if ($3 == a) A[$2] = val(c); else if ($3 == b) B[$2] = val(c)
        }
        END {
            for (r in A) if ((r in B) && A[r] != "NA" && B[r] != "NA" && B[r] > 0) x[n++] = A[r] / B[r]
            if (n == 0) { print "n/a"; exit }
            m = sorted_median(x, n)
            printf "**%.2f** (%.2f–%.2f, %d pair%s)", m, x[0], x[n - 1], n, (n == 1 ? "" : "s")
        }' "$RUNS"
}
fmt() { # 1234567.8 -> 1,234,568
    awk -v v="$1" 'BEGIN {
        if (v == "NA") { print "n/a"; exit }
        s = sprintf("%.0f", v); out = ""
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        print s out
    }'
}
errors_of() { awk -F'\t' -v s="$1" -v subj="$2" 'NR > 1 && $1 == s && $3 == subj { e += $6 } END { print e + 0 }' "$RUNS"; }

ROWS=()
MODEL_ROWS=()
NOTES=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 |"); }

# --- the runs ---------------------------------------------------------------------------------
LUA=$ROOT/benches/wrk/pipeline.lua
SOCK=$TMP/epoll.sock
MODEL="" # the model the models step measures now
wrk_pipelined() { wrk_run "$1" "$LUA"; }
labload_pipelined() { labload_run "$1" 16; }

# start_subject SUBJECT: starts SUBJECT's server (output in $TMP/NAME.log, NAME the subject's, or
# MODEL-SUBJECT for before and after) and sets TARGET, where to load it; says so and returns 1 if
# it did not start.
start_subject() {
    local subj=$1 name=$1 port bin
    port=$(free_port)
    TARGET="http://127.0.0.1:$port/"
    case $subj in
        epoll | tcp) start_server "$name" "tcp:$port" "$LAB" serve --model epoll --loops 1 --addr "127.0.0.1:$port" ;;
        may_minihttp) start_server "$name" "tcp:$port" "$PEER" --addr "127.0.0.1:$port" ;;
        ceiling) start_server "$name" "tcp:$port" "$CEILING" --addr "127.0.0.1:$port" ;;
        nginx)
            sed "s/NGINX_PORT/$port/" "$TMP/nginx.conf.in" >"$TMP/nginx.conf"
            start_server "$name" "tcp:$port" "$NGINX" -e stderr -p "$TMP" -c "$TMP/nginx.conf" ;;
        unix)
            rm -f "$SOCK"
            TARGET="unix:$SOCK:/"
            start_server "$name" "unix:$SOCK" "$LAB" serve --model epoll --loops 1 --addr "unix:$SOCK" ;;
        before | after)
            name="$MODEL-$subj"
            bin=$BEFORE
            [ "$subj" = after ] && bin=$AFTER
            start_server "$name" "tcp:$port" "$bin" serve --model "$MODEL" --addr "127.0.0.1:$port" ;;
        *) die "no server for subject $subj" ;;
    esac || { say "  $name did not start: $(tail -1 "$TMP/$name.log")"; return 1; }
}

# measure_round STEP ROUND LOAD SUBJECT...: one round of a comparison: each SUBJECT in turn on a
# fresh server (so the rounds alternate A B A B ...), loaded by `LOAD TARGET` (wrk_run,
# wrk_pipelined, labload_run), its figures recorded under STEP (NA where it did not start).
measure_round() {
    local step=$1 r=$2 load=$3 subj cpu user
    shift 3
    for subj in "$@"; do
        if ! start_subject "$subj"; then
            record "$step" "$r" "$subj" NA 0 0 0
            continue
        fi
        "$load" "$TARGET"
        cpu=$(ticks_s "$T0" "$T1")
        user=$(ticks_s "$U0" "$U1")
        stop_server
        [ "$RPS" = NA ] && say "  $subj gave no figure: $(tail -2 "$TMP/last.out" | tr '\n' ' ')"
        record "$step" "$r" "$subj" "$RPS" "$cpu" "$ERR" "$user"
    done
}

# --- the steps --------------------------------------------------------------------------------
START=$(date -u +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "server on CPU $SCPU, load on CPU $LCPU; ${DURATION} s runs after ${WARMUP} s warm-ups; results in $OUT"

if has_step pipeline; then
    say "pipeline: wrk -t1 -c$CONNS -s pipeline.lua (16 deep), epoll --loops 1 vs may_minihttp (1 worker) vs the no-HTTP ceiling"
    for r in $(seq 1 "$ROUNDS"); do
        measure_round pipeline "$r" wrk_pipelined epoll may_minihttp ceiling
    done
    row "pipelined plaintext (wrk -t1 -c$CONNS, 16 deep): epoll --loops 1 / may_minihttp (1 worker), req/s" \
        "$(fmt "$(median pipeline epoll)")" "$(fmt "$(median pipeline may_minihttp)")" "$(ratio pipeline epoll may_minihttp)" "≥ 1.1"
    row "pipelined plaintext (wrk -t1 -c$CONNS, 16 deep): epoll --loops 1 / may_minihttp (1 worker), req per server CPU-s" \
        "$(fmt "$(median pipeline epoll 7)")" "$(fmt "$(median pipeline may_minihttp 7)")" "$(ratio pipeline epoll may_minihttp 7)" ""
    row "pipelined plaintext (wrk -t1 -c$CONNS, 16 deep): the no-HTTP ceiling / may_minihttp (1 worker), req per server CPU-s: the most any server could show here" \
        "$(fmt "$(median pipeline ceiling 7)")" "$(fmt "$(median pipeline may_minihttp 7)")" "$(ratio pipeline ceiling may_minihttp 7)" ""
    NOTES+=("Pipelined: server CPU-s per ${DURATION} s run (medians): epoll $(median pipeline epoll 5), may_minihttp $(median pipeline may_minihttp 5), ceiling $(median pipeline ceiling 5).")
    say "pipeline: lab load -t1 -c$CONNS --pipeline 16, epoll --loops 1 vs may_minihttp (1 worker) vs the no-HTTP ceiling"
    for r in $(seq 1 "$ROUNDS"); do
        measure_round pipeline-lab "$r" labload_pipelined epoll may_minihttp ceiling
    done
    row "pipelined plaintext (lab load -t1 -c$CONNS --pipeline 16): epoll --loops 1 / may_minihttp (1 worker), req/s" \
        "$(fmt "$(median pipeline-lab epoll)")" "$(fmt "$(median pipeline-lab may_minihttp)")" "$(ratio pipeline-lab epoll may_minihttp)" "≥ 1.1"
    row "pipelined plaintext (lab load -t1 -c$CONNS --pipeline 16): epoll --loops 1 / may_minihttp (1 worker), req per server CPU-s" \
        "$(fmt "$(median pipeline-lab epoll 7)")" "$(fmt "$(median pipeline-lab may_minihttp 7)")" "$(ratio pipeline-lab epoll may_minihttp 7)" ""
    row "pipelined plaintext (lab load -t1 -c$CONNS --pipeline 16): the no-HTTP ceiling / may_minihttp (1 worker), req per server CPU-s: the most any server could show here" \
        "$(fmt "$(median pipeline-lab ceiling 7)")" "$(fmt "$(median pipeline-lab may_minihttp 7)")" "$(ratio pipeline-lab ceiling may_minihttp 7)" ""
    NOTES+=("Pipelined under lab load: server CPU-s per ${DURATION} s run (medians): epoll $(median pipeline-lab epoll 5), may_minihttp $(median pipeline-lab may_minihttp 5), ceiling $(median pipeline-lab ceiling 5).")
    for st in pipeline pipeline-lab; do
        NOTES+=("Where a pipelined request's server CPU goes ($st, medians, ns of CPU per request, user space + kernel, from utime and stime): epoll $(ns "$(median $st epoll 8)") + $(ns "$(median $st epoll 9)"), may_minihttp $(ns "$(median $st may_minihttp 8)") + $(ns "$(median $st may_minihttp 9)"), ceiling $(ns "$(median $st ceiling 8)") + $(ns "$(median $st ceiling 9)").")
    done
fi

if has_step keepalive; then
    say "keepalive: wrk -t1 -c$CONNS, epoll --loops 1 vs the no-HTTP ceiling vs nginx (1 worker)"
    sed "s/127\.0\.0\.1:8081/127.0.0.1:NGINX_PORT/" "$ROOT/benches/wrk/nginx.conf" >"$TMP/nginx.conf.in"
    for r in $(seq 1 "$ROUNDS"); do
        measure_round keepalive "$r" wrk_run epoll ceiling nginx
    done
    row "keep-alive plaintext (wrk -t1 -c$CONNS): epoll --loops 1 / no-HTTP ceiling, req/s" \
        "$(fmt "$(median keepalive epoll)")" "$(fmt "$(median keepalive ceiling)")" "$(ratio keepalive epoll ceiling)" "≥ 0.95"
    row "keep-alive plaintext (wrk -t1 -c$CONNS): epoll --loops 1 / nginx (1 worker), req/s" \
        "$(fmt "$(median keepalive epoll)")" "$(fmt "$(median keepalive nginx)")" "$(ratio keepalive epoll nginx)" ""
    row "keep-alive plaintext (wrk -t1 -c$CONNS): epoll --loops 1 / nginx (1 worker), req per server CPU-s" \
        "$(fmt "$(median keepalive epoll 7)")" "$(fmt "$(median keepalive nginx 7)")" "$(ratio keepalive epoll nginx 7)" "≥ 1.10"
    row "keep-alive plaintext (wrk -t1 -c$CONNS): epoll --loops 1 / no-HTTP ceiling, req per server CPU-s" \
        "$(fmt "$(median keepalive epoll 7)")" "$(fmt "$(median keepalive ceiling 7)")" "$(ratio keepalive epoll ceiling 7)" ""
    NOTES+=("Keep-alive: server CPU-s per ${DURATION} s run (medians): epoll $(median keepalive epoll 5), ceiling $(median keepalive ceiling 5), nginx $(median keepalive nginx 5).")
fi

if has_step unix; then
    say "unix: lab load -t1 -c$CONNS, epoll --loops 1 over a Unix socket vs over TCP"
    if ! start_server unix-probe "unix:$SOCK" "$LAB" serve --model epoll --loops 1 --addr "unix:$SOCK"; then
        say "  skipped: no unix transport in this build ($(tail -1 "$TMP/unix-probe.log" 2>/dev/null))"
        row "plaintext over a Unix socket / over TCP, epoll --loops 1 (lab load -t1 -c$CONNS), req/s" \
            "" "" "skipped: no unix transport in this build" "≥ 1.3"
    elif ! timeout 20 "$LAB" load -c1 -d1s -q "unix:$SOCK:/" >"$TMP/unix-probe.out" 2>&1 ||
        ! grep -q '^Requests/sec:' "$TMP/unix-probe.out"; then
        stop_server
        say "  skipped: lab serve listens on unix:PATH but lab load cannot load it ($(tail -1 "$TMP/unix-probe.out"))"
        row "plaintext over a Unix socket / over TCP, epoll --loops 1 (lab load -t1 -c$CONNS), req/s" \
            "" "" "skipped: no unix transport in this build's lab load" "≥ 1.3"
    else
        stop_server
        for r in $(seq 1 "$ROUNDS"); do
            measure_round unix "$r" labload_run unix tcp
        done
        row "plaintext over a Unix socket / over TCP, epoll --loops 1 (lab load -t1 -c$CONNS), req/s" \
            "$(fmt "$(median unix unix)")" "$(fmt "$(median unix tcp)")" "$(ratio unix unix tcp)" "≥ 1.3"
        row "plaintext over a Unix socket / over TCP, epoll --loops 1, req per server CPU-s" \
            "$(fmt "$(median unix unix 7)")" "$(fmt "$(median unix tcp 7)")" "$(ratio unix unix tcp 7)" ""
        NOTES+=("Unix/TCP: server CPU-s per ${DURATION} s run (medians): unix $(median unix unix 5), tcp $(median unix tcp 5).")
        for r in $(seq 1 "$ROUNDS"); do
            measure_round unix-pipelined "$r" labload_pipelined unix tcp
        done
        row "pipelined plaintext (16 deep) over a Unix socket / over TCP, epoll --loops 1 (lab load -t1 -c$CONNS --pipeline 16), req/s" \
            "$(fmt "$(median unix-pipelined unix)")" "$(fmt "$(median unix-pipelined tcp)")" "$(ratio unix-pipelined unix tcp)" ""
        row "pipelined plaintext (16 deep) over a Unix socket / over TCP, epoll --loops 1, req per server CPU-s" \
            "$(fmt "$(median unix-pipelined unix 7)")" "$(fmt "$(median unix-pipelined tcp 7)")" "$(ratio unix-pipelined unix tcp 7)" ""
    fi
fi

if has_step models; then
    if [ -z "$BEFORE" ]; then
        say "models: skipped (give --before LAB --after LAB)"
        NOTES+=("Models before/after: skipped (no --before/--after binaries given).")
    else
        models=$("$AFTER" models 2>/dev/null | awk 'NR > 0 && $1 ~ /^[a-z_]+$/ { print $1 }' | grep -Ev '^(model|name)$' || true)
        [ -n "$models" ] || die "could not list the models with $AFTER models"
        say "models: wrk -t1 -c$CONNS keep-alive, default flags, before vs after: $(echo $models)"
        for r in $(seq 1 "$MODEL_ROUNDS"); do
            for m in $models; do
                MODEL=$m
                measure_round "model:$m" "$r" wrk_run before after
            done
        done
        for m in $models; do
            b=$(median "model:$m" before)
            a=$(median "model:$m" after)
            note=""
            if [ "$a" = NA ] || [ "$b" = NA ]; then
                note="cannot run here: $(tail -1 "$TMP/$m-after.log" 2>/dev/null | cut -c1-80)"
            fi
            e="$(errors_of "model:$m" before) / $(errors_of "model:$m" after)"
            MODEL_ROWS+=("| \`$m\` | $(fmt "$b") | $(fmt "$a") | $(ratio "model:$m" after before) | $(ratio "model:$m" after before 7) | $e | $note |")
        done
    fi
fi

# --- the report -------------------------------------------------------------------------------
END_T=$(date -u +%s)
{
    echo "Measured $(date -u +'%Y-%m-%d %H:%M UTC') on $(nproc --all) CPUs ($(uname -r)), server pinned to CPU $SCPU and load generator to CPU $LCPU (taskset);"
    [ "$NICE" != 0 ] && echo "Servers and load generators ran at nice $NICE."
    echo "${DURATION} s measured runs, each after a ${WARMUP} s unmeasured one, a fresh server per run, A and B alternating; $ROUNDS rounds ($MODEL_ROUNDS per model);"
    echo "load average $LOAD_BEFORE at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $((END_T - START)) s in all. lab: \`$("$LAB" --version 2>/dev/null | head -1)\`."
    echo "Ratios are the median of the pairs' ratios A/B (each pair measured back to back), with their min–max; A and B are medians of the runs."
    echo "Where the servers got much less than ${DURATION} CPU-s per run (other work on the CPU), throughput follows the share each got; requests per server CPU-second hold steadier."
    echo
    if [ ${#ROWS[@]} -gt 0 ]; then
        echo "| what (A / B) | A | B | A/B | goal |"
        echo "|---|---|---|---|---|"
        printf '%s\n' "${ROWS[@]}"
        echo
    fi
    if [ ${#MODEL_ROWS[@]} -gt 0 ]; then
        echo "Every model, plaintext \`GET /\`, wrk -t1 -c$CONNS keep-alive, default flags: before \`$("$BEFORE" --version 2>/dev/null | head -1)\`, after \`$("$AFTER" --version 2>/dev/null | head -1)\`"
        echo
        echo "| model | before req/s | after req/s | after/before | after/before, per server CPU-s | errors before / after | |"
        echo "|---|---|---|---|---|---|---|"
        printf '%s\n' "${MODEL_ROWS[@]}"
        echo
    fi
    for n in "${NOTES[@]}"; do echo "$n"; done
    echo "Server CPU: utime+stime (+ reaped children's) of the server's process tree from /proc/PID/stat around the measured run ($TICK ticks/s); every run's figures: $RUNS."
} | tee "$OUT/table.md"
