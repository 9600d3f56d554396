#!/usr/bin/env python3
"""Writes configs/tokenizers/arith/tokenizer.json: the tiny tokenizer of the quickstart.

A valid Hugging Face tokenizer.json (byte-level BPE with no merges), so that HF tokenizers loads it
too (checked in tests/model/test_tokenizer.cpp). Every digit is its own token and nothing ever merges,
which is what the arithmetic task needs: the model sees one digit per position.

    python3 model/tokenizer/tools/make_arith_tokenizer.py [OUT]

Ids: digits 0-9 are ids 0-9, then + = * - space newline, lowercase a-z, <|unk|> (any other character),
then the added tokens <|endoftext|> (EOS), <|pad|>, <|im_start|>, <|im_end|>.
"""
import json
import os
import sys

BYTE_LEVEL = {" ": "\u0120", "\n": "\u010a"}  # GPT-2 byte-level forms of space and newline


def build():
    symbols = [str(d) for d in range(10)] + ["+", "=", "*", "-", " ", "\n"]
    symbols += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {}
    for s in symbols:
        vocab[BYTE_LEVEL.get(s, s)] = len(vocab)
    vocab["<|unk|>"] = len(vocab)
    specials = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
    added = [
        {"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, s in enumerate(specials)
    ]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<|unk|>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [],
        },
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "configs/tokenizers/arith/tokenizer.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(build(), f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(out)


if __name__ == "__main__":
    main()
