// Added tokens (`added_tokens` of tokenizer.json: <|im_start|>, <|endoftext|>, <think>, ...). They are
// cut out of the text before normalization and pre-tokenization, with HF's rules: leftmost-longest
// match; `normalized: false` tokens are matched on the raw text, `normalized: true` ones on the
// normalized text; lstrip/rstrip swallow neighbouring whitespace; single_word needs word boundaries.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stride::tok {

struct AddedToken {
    std::string content;
    int id = -1;
    bool special = false;  // dropped by decode(skip_special); not matched when special tokens are disabled
    bool normalized = false;
    bool lstrip = false, rstrip = false, single_word = false;
};

// A run of input: the bytes [begin, end) of the text, either plain text (token == -1) or matched by
// the added token at index `token`.
struct Segment {
    size_t begin, end;
    int token;
};

// Finds the added tokens of one kind (raw or normalized) in a text.
class AddedTokenMatcher {
   public:
    // `pattern` is what to look for (the content, normalized for normalized tokens); `token` indexes
    // the list passed to split().
    void add(std::string_view pattern, int token);

    // Cuts `text` into segments covering it in order. Special tokens are not matched unless
    // `allow_special`.
    void split(std::string_view text, const std::vector<AddedToken>& tokens, bool allow_special,
               std::vector<Segment>& out) const;

    bool empty() const { return nodes_.size() <= 1; }

   private:
    // Byte trie; node 0 is the root, whose children are also indexed by first byte for speed.
    struct Node {
        std::vector<std::pair<unsigned char, int>> children;
        int token = -1;
    };
    int child(int node, unsigned char b) const;
    std::vector<Node> nodes_ = std::vector<Node>(1);
    std::array<int, 256> root_children_ = filled(-1);
    static std::array<int, 256> filled(int v) {
        std::array<int, 256> a;
        a.fill(v);
        return a;
    }
};

}  // namespace stride::tok
