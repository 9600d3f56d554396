#!/bin/bash
# Builds a fuzzer with clang + libFuzzer + ASan/UBSan and runs it.
#   tests/fuzz/build_and_run.sh [safetensors|parquet] [SECONDS=180] [extra libFuzzer flags...]
# The target defaults to safetensors. Needs clang-14 and libclang-rt-14-dev (Debian); the parquet
# target also libsnappy-dev, libzstd-dev, zlib1g-dev, liblz4-dev and libbrotli-dev, and seeds its corpus with the test files of
# tests/job/test_parquet.cpp when node and the oracles are there (tests/prepare_oracles.sh).
# Output goes to build-fuzz/ (safetensors) or build-fuzz/parquet/ at the repository root; crashes are
# written there as crash-<sha1> and can be replayed with: build-fuzz/fuzz_safetensors_header FILE
# (or build-fuzz/parquet/fuzz_parquet FILE).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET=safetensors
if [[ "${1:-}" == safetensors || "${1:-}" == parquet ]]; then
  TARGET="$1"
  shift
fi
SECONDS_TO_RUN="${1:-180}"
shift || true
CXX="${CXX:-clang++}"
FLAGS=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"$ROOT")

if [[ "$TARGET" == parquet ]]; then
  OUT="$ROOT/build-fuzz/parquet"
  mkdir -p "$OUT/corpus"
  "$CXX" "${FLAGS[@]}" "$ROOT/tests/fuzz/fuzz_parquet.cpp" "$ROOT"/job/parquet/*.cpp "$ROOT/common/base/utf8.cpp" \
    -lsnappy -lzstd -lz -llz4 -lbrotlidec -o "$OUT/fuzz_parquet"
  # Seed corpus: the test files (every encoding, codec and nesting), small enough to mutate.
  if command -v node >/dev/null && [ -d "$ROOT/tests/parquet_oracle/node_modules/hyparquet-writer" ]; then
    (cd "$ROOT/tests/parquet_oracle" && node make_fixtures.mjs "$OUT/corpus" >/dev/null)
  fi
  printf '%s\n' '"PAR1"' '"\x15\x00"' '"\x19\x1c"' '"\x18\x04"' > "$OUT/parquet.dict"
  cd "$OUT"
  exec ./fuzz_parquet -max_total_time="$SECONDS_TO_RUN" -dict=parquet.dict -print_final_stats=1 \
    -max_len=16384 "$@" corpus
fi

OUT="$ROOT/build-fuzz"
mkdir -p "$OUT/corpus"
"$CXX" "${FLAGS[@]}" "$ROOT/tests/fuzz/fuzz_safetensors_header.cpp" "$ROOT/model/safetensors.cpp" \
  -o "$OUT/fuzz_safetensors_header"

# Seed corpus: a few valid files (several dtypes, a scalar, an empty tensor, metadata) to start from.
/usr/bin/python3 - "$OUT/corpus" <<'PY'
import json, struct, sys
def emit(name, tensors, meta={"format": "pt"}):
    header, data, off = {}, b"", 0
    if meta is not None:
        header["__metadata__"] = meta
    for tname, dtype, shape, raw in tensors:
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(f"{sys.argv[1]}/{name}", "wb").write(struct.pack("<Q", len(h)) + h + data)
emit("seed_f32", [("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))])
emit("seed_mixed", [("a", "F32", [2], struct.pack("<2f", 1, -1)), ("b", "BF16", [3], b"\x80\x3f" * 3),
                    ("c", "F16", [1, 1], b"\x00\x3c"), ("d", "I64", [1], struct.pack("<q", 7))])
emit("seed_edge", [("e", "F16", [0, 3], b""), ("s", "F32", [], struct.pack("<f", 2))], meta=None)
emit("seed_sub", [("q", "F4", [4], b"\x12\x34"), ("z", "BOOL", [2], b"\x00\x01")], meta={"a": "b"})
PY

cat > "$OUT/safetensors.dict" <<'DICT'
"__metadata__"
"format"
"pt"
"dtype"
"shape"
"data_offsets"
"F32"
"BF16"
"F16"
"I64"
"F4"
"F6_E2M3"
"U8"
"BOOL"
"18446744073709551615"
"9223372036854775808"
"-1"
DICT

cd "$OUT"
exec ./fuzz_safetensors_header -max_total_time="$SECONDS_TO_RUN" -dict=safetensors.dict -print_final_stats=1 \
  "$@" corpus
