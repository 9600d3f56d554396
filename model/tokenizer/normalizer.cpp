#include "model/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/base/error.h"

namespace stride::tok {

static void add_normalizer(const nlohmann::json& j, const std::string& where, std::vector<int>& forms) {
    if (j.is_null()) return;
    STRIDE_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(),
                 where + ": normalizer must be an object with a \"type\"");
    const std::string type = j["type"];
    const int stable = UTF8PROC_STABLE;
    if (type == "Sequence") {
        STRIDE_CHECK(j.contains("normalizers") && j["normalizers"].is_array(),
                     where + ": Sequence normalizer needs a \"normalizers\" array");
        for (const auto& n : j["normalizers"]) add_normalizer(n, where, forms);
    } else if (type == "NFC") {
        forms.push_back(stable | UTF8PROC_COMPOSE);
    } else if (type == "NFD") {
        forms.push_back(stable | UTF8PROC_DECOMPOSE);
    } else if (type == "NFKC") {
        forms.push_back(stable | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    } else if (type == "NFKD") {
        forms.push_back(stable | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
    } else {
        throw Error(where + ": unsupported normalizer type '" + type +
                    "' (supported: NFC, NFD, NFKC, NFKD, Sequence, null)");
    }
}

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& where) {
    Normalizer n;
    add_normalizer(j, where, n.forms_);
    return n;
}

static bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

std::string Normalizer::apply(std::string_view text) const {
    // ASCII is invariant under all four forms: skip the copy through utf8proc for the common case.
    if (forms_.empty() || text.empty() || is_ascii(text)) return std::string(text);
    std::string cur(text);
    for (int options : forms_) {
        utf8proc_uint8_t* out = nullptr;
        utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(cur.data()),
                                          static_cast<utf8proc_ssize_t>(cur.size()), &out,
                                          static_cast<utf8proc_option_t>(options));
        STRIDE_CHECK(n >= 0, std::string("normalizer: ") + utf8proc_errmsg(n));
        cur.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
        std::free(out);
    }
    return cur;
}

}  // namespace stride::tok
