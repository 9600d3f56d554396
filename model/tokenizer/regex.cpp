#include "model/tokenizer/regex.h"

#include <oniguruma.h>

#include <cstring>
#include <mutex>

#include "common/base/error.h"

namespace stride::tok {

static void onig_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
        onig_initialize(encodings, 1);
    });
}

static std::string onig_message(int code, OnigErrorInfo* info) {
    OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
    int n = info ? onig_error_code_to_str(buf, code, info) : onig_error_code_to_str(buf, code);
    return std::string(reinterpret_cast<char*>(buf), n > 0 ? n : 0);
}

Regex::Regex(const std::string& pattern) {
    onig_init_once();
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
    OnigRegex reg = nullptr;
    OnigErrorInfo info;
    // ONIG_SYNTAX_DEFAULT (Ruby) with no options: what onig::Regex::new uses inside HF tokenizers.
    int rc = onig_new(&reg, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT,
                      &info);
    if (rc != ONIG_NORMAL) throw Error("regex " + pattern + ": " + onig_message(rc, &info));
    regex_ = reg;
}

Regex::~Regex() {
    if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& matches) const {
    matches.clear();
    auto reg = static_cast<OnigRegex>(regex_);
    const auto* str = reinterpret_cast<const OnigUChar*>(text.data());
    const OnigUChar* end = str + text.size();
    OnigRegion* region = onig_region_new();
    size_t pos = 0;
    bool have_last = false;
    size_t last_end = 0;
    while (pos <= text.size()) {
        int r = onig_search(reg, str, end, str + pos, end, region, ONIG_OPTION_NONE);
        if (r == ONIG_MISMATCH) break;
        if (r < 0) {
            onig_region_free(region, 1);
            throw Error("regex search failed: " + onig_message(r, nullptr));
        }
        auto b = static_cast<size_t>(region->beg[0]);
        auto e = static_cast<size_t>(region->end[0]);
        if (b == e && have_last && last_end == e) {
            // Step over one character so that an empty match cannot repeat forever.
            if (pos >= text.size()) break;
            auto lead = static_cast<unsigned char>(text[pos]);
            pos += lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            continue;
        }
        matches.emplace_back(b, e);
        pos = e;
        have_last = true;
        last_end = e;
    }
    onig_region_free(region, 1);
}

std::string Regex::escape(std::string_view literal) {
    std::string out;
    for (char c : literal) {
        if (std::strchr("\\.+*?()|[]{}^$#&-~", c) && c != '\0') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace stride::tok
