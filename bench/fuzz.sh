#!/bin/bash
# A longer fuzzing campaign than `make test` runs (issue #20): the self-contained parser targets of
# tests/fuzz/ built with clang's libFuzzer + ASan + UBSan, each run for SECONDS from its seed corpus
# (tests/fuzz/corpus/<name>/), and a table of executions and findings written to
# bench/results/<date>-fuzz.md. The targets that need the whole library stack (config, jsonl,
# envelope, code_label, and the message handlers: buffer_request, registry_request,
# dispatcher_request, weight_serve, checkpoint_index) run only as the seeded mutation loops of
# `make test` (tests/fuzz/test_fuzz.cpp). reward_reply needs the generated proto/stride.pb.cc of a
# build tree ($BUILD, default build/) and libprotobuf.
#   bench/fuzz.sh [SECONDS=60]        env TARGETS="jinja math_answer ..." to pick targets
# Needs clang and libclang-rt-dev (ops/install_deps.sh), libonig-dev, libutf8proc-dev, libsnappy-dev,
# libzstd-dev, zlib1g-dev, libbrotli-dev, liblz4-dev. A crash is kept as build-fuzz/campaign/<name>/crash-*; make it a test of
# its parser (and a seed in the corpus), then fix the parser.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${1:-60}"
TARGETS="${TARGETS:-safetensors_header parquet jinja math_answer tokenizer_json reward_reply}"
BUILD="${BUILD:-$ROOT/build}"
CXX="${CXX:-clang++}"
FLAGS=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"$ROOT")
OUT="$ROOT/build-fuzz/campaign"
REPORT="$ROOT/bench/results/$(date -u +%F)-fuzz.md"
mkdir -p "$OUT"

sources() {  # the parser's own files, beside the target
  case "$1" in
    safetensors_header) echo "$ROOT/model/safetensors.cpp" ;;
    parquet) echo "$ROOT"/job/parquet/*.cpp -lsnappy -lzstd -lz -lbrotlidec -llz4 ;;
    jinja) echo "$ROOT"/common/jinja/*.cpp ;;
    math_answer) ls "$ROOT"/reward/math/*.cpp | grep -v math_reward.cpp ;;
    tokenizer_json) echo "$ROOT"/model/tokenizer/*.cpp -lonig -lutf8proc ;;
    reward_reply) echo "$ROOT/reward/plugin/plugin_protocol.cpp $BUILD/proto/stride.pb.cc -I$BUILD -lprotobuf" ;;
    *) echo "bench/fuzz.sh: no standalone build for '$1'" >&2; return 1 ;;
  esac
}

{
  echo "# Fuzzing campaign, $(date -u '+%F %H:%M') UTC"
  echo
  echo "bench/fuzz.sh $SECONDS_EACH on $(nproc) cores ($(uname -m)), clang $("$CXX" -dumpversion), libFuzzer + ASan + UBSan,"
  echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo "| target | seconds | executions | corpus units added | findings |"
  echo "|---|---|---|---|---|"
} > "$REPORT"

for t in $TARGETS; do
  dir="$OUT/$t"
  mkdir -p "$dir/corpus"
  cp "$ROOT/tests/fuzz/corpus/$t/"* "$dir/corpus/"
  # shellcheck disable=SC2046
  "$CXX" "${FLAGS[@]}" "$ROOT/tests/fuzz/fuzz_$t.cpp" $(sources "$t") -o "$dir/fuzz_$t"
  rm -f "$dir"/crash-* "$dir"/oom-* "$dir"/timeout-*
  (cd "$dir" && ./"fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 \
     corpus > run.log 2>&1) || true
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/run.log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$dir/run.log")
  findings=$(cd "$dir" && ls crash-* oom-* timeout-* 2>/dev/null | tr '\n' ' ' || true)
  echo "| $t | $SECONDS_EACH | ${runs:-?} | ${added:-?} | ${findings:-none} |" >> "$REPORT"
  echo "fuzz $t: ${runs:-?} executions, findings: ${findings:-none}"
done
echo "wrote $REPORT"
