// UTF-8 encoding and decoding shared by the tokenizer (model/tokenizer/), the Jinja interpreter
// (common/jinja/) and the Parquet reader (job/parquet/): one implementation of appending a code point,
// stepping through a string, finding the first invalid sequence and replacing invalid bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stride {

// Appends the UTF-8 encoding of code point `cp`.
void utf8_append(std::string& out, uint32_t cp);

// The code point starting at s[i] and, in *len, its length in bytes. Lenient, for strings that are
// valid UTF-8 or close to it: a byte that cannot start a sequence, or a sequence cut short by the
// end of `s`, is one unit of length 1 whose value is the byte itself; continuation bytes are not
// checked.
uint32_t utf8_decode_at(std::string_view s, size_t i, size_t* len);

// utf8_decode_at, advancing i past the code point.
inline uint32_t utf8_next(std::string_view s, size_t& i) {
    size_t len;
    const uint32_t cp = utf8_decode_at(s, i, &len);
    i += len;
    return cp;
}

// Byte offset of the first invalid UTF-8 sequence in `s` (strict: no overlong forms, surrogates or
// code points past U+10FFFF), or npos when `s` is valid.
size_t utf8_find_invalid(std::string_view s);

// `bytes` with each maximal invalid subpart replaced by one U+FFFD (the Unicode "best practice" that
// Rust's String::from_utf8_lossy and the WHATWG TextDecoder follow).
std::string utf8_lossy(std::string_view bytes);

}  // namespace stride
