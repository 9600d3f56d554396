// Tokenizer: loads a Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, Qwen2/Qwen3,
// Llama-3) and encodes / decodes exactly as HF tokenizers does (checked id for id against the Rust
// crate in tests/model/test_tokenizer.cpp).
//
//   Tokenizer tok = Tokenizer::load("tokenizer.json");
//   std::vector<int> ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n");
//   std::string text = tok.decode(ids);
//
// encode() never adds BOS/EOS (post_processor, truncation and padding are ignored): prompts get their
// special tokens from the chat template. Copies share the loaded data; all methods are thread-safe.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace stride {

class Tokenizer {
   public:
    // Throws Error naming `path` for unreadable or malformed files and unsupported components.
    static Tokenizer load(const std::string& path);
    // Same from the JSON text itself; `source` names it in error messages.
    static Tokenizer from_json_text(std::string_view json_text, const std::string& source);

    // Text (valid UTF-8, else Error) -> ids. With allow_special = false, the text of special added
    // tokens such as "<|im_start|>" is tokenized as ordinary text (HF's split_special_tokens).
    std::vector<int> encode(std::string_view text, bool allow_special = true) const;

    // Ids -> text. Invalid UTF-8 (e.g. a cut multi-byte character) becomes U+FFFD. Ids that name no
    // token (padding rows past the tokenizer) are skipped, as in HF; negative ids are an Error.
    std::string decode(const std::vector<int>& ids, bool skip_special = false) const;

    int token_to_id(std::string_view token) const;  // -1 when there is no such token
    std::string id_to_token(int id) const;          // "" when no token has this id
    bool is_special(int id) const;                  // an added token marked "special"
    int vocab_size() const;                         // highest id + 1 (BPE vocab and added tokens)

    struct Impl;

   private:
    explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

}  // namespace stride
