// GPT-2's byte-level alphabet: every byte maps to one printable code point, so any byte string becomes
// a string BPE can work on, and back. Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves; the
// other 68 bytes map in order to U+0100, U+0101, ... (space -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A).
#pragma once
#include <string>
#include <string_view>

namespace stride::tok {

// Appends the byte-level form of `bytes` to `out`.
void byte_level_encode(std::string_view bytes, std::string& out);

// Appends the bytes that the byte-level token `token` stands for. Returns false (appending nothing)
// when a character of `token` is outside the alphabet; HF then uses the token's own UTF-8 bytes.
bool byte_level_decode(std::string_view token, std::string& out);

// The GPT-2 pre-tokenization regex applied by a ByteLevel pre-tokenizer with use_regex = true.
extern const char* const kGpt2Pattern;

}  // namespace stride::tok
