// UTF-8 helpers for the tokenizer: validation, code point stepping, and lossy decoding that replaces
// invalid bytes exactly as Rust's String::from_utf8_lossy does (HF tokenizers decodes with it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stride::tok {

// Byte offset of the first invalid UTF-8 sequence in `s`, or npos when `s` is valid.
size_t utf8_find_invalid(std::string_view s);

// Decodes the code point starting at s[i] (s must be valid UTF-8) and advances i past it.
uint32_t utf8_next(std::string_view s, size_t& i);

void utf8_append(std::string& out, uint32_t cp);

// Each maximal invalid subpart becomes one U+FFFD (the Unicode "best practice" Rust follows).
std::string utf8_lossy(std::string_view bytes);

// Unicode White_Space, as Rust's char::is_whitespace (used by added-token lstrip/rstrip).
bool is_unicode_whitespace(uint32_t cp);

// A regex `\w` character (letters, marks, decimal and letter numbers, connector punctuation, joiners):
// what HF's added-token single_word treats as part of a word (measured against HF: '_', U+0301 and
// U+2167 are word characters, '²' is not).
bool is_word_char(uint32_t cp);

}  // namespace stride::tok
