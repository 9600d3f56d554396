// The `pre_tokenizer` of tokenizer.json: cuts normalized text into the pieces BPE sees. Supported:
// Split (Regex or String pattern; behavior Removed / Isolated / MergedWithPrevious / MergedWithNext /
// Contiguous; invert), ByteLevel (add_prefix_space, use_regex with the GPT-2 regex) and Sequence.
// ByteLevel also maps each piece into the byte-level alphabet, as HF does in the same step.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace stride::tok {

class Regex;

class PreTokenizer {
   public:
    // `where` names the file for error messages.
    static PreTokenizer from_json(const nlohmann::json& j, const std::string& where);

    // Replaces `pieces` with the pieces of `text` (never empty strings).
    void split(std::string_view text, std::vector<std::string>& pieces) const;

    bool has_byte_level() const;

    enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
    struct Step {
        bool byte_level = false;       // ByteLevel step, else Split
        std::shared_ptr<Regex> regex;  // Split pattern, or the GPT-2 regex of ByteLevel (null: none)
        Behavior behavior = Behavior::Isolated;
        bool invert = false;
        bool add_prefix_space = false;  // ByteLevel only
    };

   private:
    std::vector<Step> steps_;
};

}  // namespace stride::tok
