// Unicode character classes the tokenizer needs (added tokens' lstrip/rstrip and single_word). The
// UTF-8 encoding and decoding it uses (utf8_next, utf8_append, utf8_find_invalid, and utf8_lossy,
// which replaces invalid bytes as Rust's String::from_utf8_lossy does: HF tokenizers decodes with it)
// are common/base/utf8.h's.
#pragma once
#include <cstdint>

#include "common/base/utf8.h"

namespace stride::tok {

// Unicode White_Space, as Rust's char::is_whitespace (used by added-token lstrip/rstrip).
bool is_unicode_whitespace(uint32_t cp);

// A regex `\w` character (letters, marks, decimal and letter numbers, connector punctuation, joiners):
// what HF's added-token single_word treats as part of a word (measured against HF: '_', U+0301 and
// U+2167 are word characters, '²' is not).
bool is_word_char(uint32_t cp);

}  // namespace stride::tok
