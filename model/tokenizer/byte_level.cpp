#include "model/tokenizer/byte_level.h"

#include <array>

#include "model/tokenizer/utf8.h"

namespace stride::tok {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// The alphabet never goes past U+0143, so the reverse map is a small array.
constexpr uint32_t kMaxCodePoint = 0x144;

struct Tables {
    std::array<std::string, 256> byte_to_utf8;  // byte -> UTF-8 of its code point
    std::array<int, kMaxCodePoint> cp_to_byte;  // code point -> byte, -1 outside the alphabet

    Tables() {
        cp_to_byte.fill(-1);
        uint32_t next_extra = 0x100;
        for (uint32_t b = 0; b < 256; ++b) {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            uint32_t cp = printable ? b : next_extra++;
            utf8_append(byte_to_utf8[b], cp);
            cp_to_byte[cp] = static_cast<int>(b);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

void byte_level_encode(std::string_view bytes, std::string& out) {
    const Tables& t = tables();
    for (unsigned char b : bytes) out += t.byte_to_utf8[b];
}

bool byte_level_decode(std::string_view token, std::string& out) {
    const Tables& t = tables();
    size_t start = out.size();
    for (size_t i = 0; i < token.size();) {
        uint32_t cp = utf8_next(token, i);
        if (cp >= kMaxCodePoint || t.cp_to_byte[cp] < 0) {
            out.resize(start);
            return false;
        }
        out += static_cast<char>(t.cp_to_byte[cp]);
    }
    return true;
}

}  // namespace stride::tok
