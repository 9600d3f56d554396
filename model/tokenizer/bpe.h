// The BPE `model` of tokenizer.json: vocab (token -> id), ranked merges, optional unk_token and
// ignore_merges. tokenize() turns one pre-tokenized piece (already in the model's alphabet, i.e.
// byte-level for GPT-2 style files) into ids, caching results per piece because pieces repeat a lot.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace stride::tok {

// Hash that lets maps keyed by std::string be searched with a std::string_view.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class BpeModel {
   public:
    // Throws Error naming `where` for a model that is not BPE, lacks vocab/merges, or has merges that
    // reference tokens missing from the vocab.
    static std::unique_ptr<BpeModel> from_json(const nlohmann::json& model, const std::string& where);

    // Appends the ids of `word`. Thread-safe.
    void tokenize(std::string_view word, std::vector<int>& out) const;

    int token_to_id(std::string_view token) const;  // -1 when absent
    const std::string* id_to_token(int id) const;   // null when absent
    size_t vocab_entries() const { return vocab_.size(); }
    int max_id() const { return static_cast<int>(tokens_.size()) - 1; }

   private:
    struct Merge {
        int rank;
        int merged_id;
    };
    static uint64_t pair_key(int left, int right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }
    void merge_word(std::string_view word, std::vector<int>& out) const;

    StringMap<int> vocab_;
    std::vector<std::string> tokens_;             // id -> token, "" where no token has that id
    std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank and merged id
    std::vector<int> small_char_ids_;             // id of each one-character token below U+0400
    int unk_id_ = -1;
    bool fuse_unk_ = false;
    bool ignore_merges_ = false;

    mutable std::mutex cache_mutex_;
    mutable StringMap<std::vector<int>> cache_;
};

}  // namespace stride::tok
