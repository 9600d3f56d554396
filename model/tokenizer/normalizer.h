// The `normalizer` of tokenizer.json: null, one of the Unicode forms NFC / NFD / NFKC / NFKD, or a
// Sequence of them. Anything else is rejected at load time with an Error naming the type.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace stride::tok {

class Normalizer {
   public:
    // `where` names the file for error messages.
    static Normalizer from_json(const nlohmann::json& j, const std::string& where);

    bool is_identity() const { return forms_.empty(); }
    std::string apply(std::string_view text) const;  // text must be valid UTF-8

   private:
    std::vector<int> forms_;  // utf8proc option sets, applied in order
};

}  // namespace stride::tok
