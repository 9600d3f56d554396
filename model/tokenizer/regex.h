// Oniguruma regex, compiled once and shared read-only between threads. Oniguruma is the engine HF
// tokenizers uses, so `\p{L}`, `\s`, `(?i:...)` and `(?!\S)` mean exactly what they mean there.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stride::tok {

class Regex {
   public:
    // Throws Error("regex <pattern>: <onig message>") when the pattern does not compile.
    explicit Regex(const std::string& pattern);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // All non-overlapping matches (begin, end) in byte offsets, left to right. Text must be valid UTF-8.
    // An empty match right after the previous match is skipped, as the Rust onig crate's find_iter does.
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& matches) const;

    // Pattern matching `literal` exactly (escapes the characters Rust's regex::escape escapes, as HF
    // does for a Split with a String pattern).
    static std::string escape(std::string_view literal);

   private:
    void* regex_ = nullptr;  // OnigRegex; kept opaque so users of this header need no oniguruma.h
};

}  // namespace stride::tok
