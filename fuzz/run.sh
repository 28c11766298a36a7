#!/usr/bin/env bash
# Coverage-guided fuzzing of the parser, the chunked decoder and the request reader, on stable Rust.
#
#   fuzz/run.sh <parse_head|chunked|reader|all> <minutes>   fuzz, then minimize the corpus
#   fuzz/run.sh cmin <target|all>                            only minimize corpus/<target>
#
# cargo-fuzz (libFuzzer) with --sanitizer none needs no nightly: the coverage instrumentation it asks
# rustc for (-Cpasses=sancov-module, -Cllvm-args=-sanitizer-coverage-*) is stable; only the
# sanitizers (-Zsanitizer) are not. -O -a: optimized, with debug assertions and overflow checks.
# New inputs go to corpus/<target>/, crashes to artifacts/<target>/. The committed corpus is
# replayed by `cargo test -p lab-core --test fuzz_corpus`. Runs under nice: the machine is shared.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")"

usage() { sed -n '4,5p' "$self" | sed 's/^# *//' >&2; exit 2; }
[ $# -eq 2 ] || usage
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version '^0.13' --locked
fi
FLAGS=(--sanitizer none -O -a)
TARGETS=(parse_head chunked reader)

seeds_of() { case "$1" in chunked) echo seeds/chunked ;; *) echo seeds/requests ;; esac; }

# Keeps in corpus/<target> the fewest files that reach every edge the seeds do not already reach
# (libFuzzer's -merge with the seeds as the starting set; -use_counters=0: an edge counts once,
# however often an input hits it), so the committed corpus stays a few hundred small files.
cmin() {
    local target=$1 seeds bin tmp
    seeds=$(seeds_of "$target")
    mkdir -p "corpus/$target"
    nice -n 10 cargo fuzz build "${FLAGS[@]}" "$target"
    bin="target/$(rustc -vV | sed -n 's/^host: //p')/release/$target"
    tmp=$(mktemp -d corpus/.cmin-XXXXXX)
    cp "$seeds"/* "$tmp"/
    nice -n 10 "$bin" -merge=1 -use_counters=0 "$tmp" "corpus/$target" 2>&1 | grep -a '^MERGE-OUTER: .* new files' || true
    (cd "$seeds" && for f in *; do rm "../../$tmp/$f"; done)
    rm -rf "corpus/$target" && mv "$tmp" "corpus/$target"
    echo "$target: corpus/$target holds $(ls "corpus/$target" | wc -l) files, $(cat "corpus/$target"/* | wc -c) bytes"
}

fuzz() {
    local target=$1 secs=$(( $2 * 60 ))
    mkdir -p "corpus/$target" logs
    nice -n 10 cargo fuzz build "${FLAGS[@]}" "$target"
    # libFuzzer prints a status line per new input and the totals at the end (-print_final_stats).
    nice -n 10 cargo fuzz run "${FLAGS[@]}" "$target" "corpus/$target" "$(seeds_of "$target")" -- \
        -dict=http.dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        2> "logs/$target.log" || { echo "$target: the fuzzer stopped on a failure; see logs/$target.log and artifacts/$target/"; exit 1; }
    grep -aE '^#[0-9]+[[:space:]]+DONE|^stat::' "logs/$target.log"
    cmin "$target"
}

case "$1" in
    cmin) if [ "$2" = all ]; then for t in "${TARGETS[@]}"; do cmin "$t"; done; else cmin "$2"; fi ;;
    all) for t in "${TARGETS[@]}"; do fuzz "$t" "$2"; done ;;
    parse_head|chunked|reader) fuzz "$1" "$2" ;;
    *) usage ;;
esac
