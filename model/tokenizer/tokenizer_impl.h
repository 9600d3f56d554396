// Internals of Tokenizer shared by its loader (tokenizer_load.cpp) and its encode/decode
// (tokenizer.cpp). Not for use outside model/tokenizer/.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/added_tokens.h"
#include "model/tokenizer/bpe.h"
#include "model/tokenizer/normalizer.h"
#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace stride {

struct Tokenizer::Impl {
    std::string source;  // file name, for messages
    tok::Normalizer normalizer;
    tok::PreTokenizer pre_tokenizer;
    std::unique_ptr<tok::BpeModel> model;

    std::vector<tok::AddedToken> added;                      // in file order
    tok::AddedTokenMatcher raw_matcher, normalized_matcher;  // normalized: false / true tokens
    std::unordered_map<int, int> added_index_by_id;          // id -> index into `added`
    tok::StringMap<int> added_id_by_content;

    bool byte_level_decoder = false;  // else decode joins tokens with spaces (HF without a decoder)
    int vocab_size = 0;
};

}  // namespace stride
