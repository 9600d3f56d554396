// Tokenizer encode/decode: the HF pipeline of added tokens -> normalizer -> pre-tokenizer -> BPE, and
// its reverse.
#include "model/tokenizer/tokenizer.h"

#include "common/base/error.h"
#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/tokenizer_impl.h"
#include "model/tokenizer/utf8.h"

namespace stride {

std::vector<int> Tokenizer::encode(std::string_view text, bool allow_special) const {
    const Impl& t = *impl_;
    size_t bad = utf8_find_invalid(text);
    STRIDE_CHECK(bad == std::string_view::npos,
                 "tokenizer encode: text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
    std::vector<int> ids;
    ids.reserve(text.size() / 3 + 4);
    thread_local std::vector<tok::Segment> raw_segments, normalized_segments;
    thread_local std::vector<std::string> pieces;

    // Raw-matched added tokens first; the rest is normalized, then searched for normalized added
    // tokens, then pre-tokenized and run through BPE piece by piece.
    t.raw_matcher.split(text, t.added, allow_special, raw_segments);
    for (const tok::Segment& r : raw_segments) {
        if (r.token >= 0) {
            ids.push_back(t.added[r.token].id);
            continue;
        }
        if (r.end == r.begin) continue;
        const std::string normalized = t.normalizer.apply(text.substr(r.begin, r.end - r.begin));
        t.normalized_matcher.split(normalized, t.added, allow_special, normalized_segments);
        for (const tok::Segment& n : normalized_segments) {
            if (n.token >= 0) {
                ids.push_back(t.added[n.token].id);
                continue;
            }
            t.pre_tokenizer.split(std::string_view(normalized).substr(n.begin, n.end - n.begin), pieces);
            for (const std::string& piece : pieces) t.model->tokenize(piece, ids);
        }
    }
    return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
    const Impl& t = *impl_;
    std::string out;
    bool first = true;
    for (int id : ids) {
        STRIDE_CHECK(id >= 0, "tokenizer decode: negative token id " + std::to_string(id));
        const std::string* token = nullptr;
        auto added = t.added_index_by_id.find(id);
        if (added != t.added_index_by_id.end()) {
            const tok::AddedToken& a = t.added[added->second];
            if (skip_special && a.special) continue;
            token = &a.content;
        } else {
            token = t.model->id_to_token(id);
            if (!token) continue;
        }
        if (t.byte_level_decoder) {
            // A token with characters outside the byte alphabet contributes its own UTF-8 bytes (HF).
            if (!tok::byte_level_decode(*token, out)) out += *token;
        } else {
            if (!first) out += ' ';
            out += *token;
        }
        first = false;
    }
    return t.byte_level_decoder ? utf8_lossy(out) : out;
}

int Tokenizer::token_to_id(std::string_view token) const {
    auto it = impl_->added_id_by_content.find(token);
    if (it != impl_->added_id_by_content.end()) return it->second;
    return impl_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int id) const {
    auto it = impl_->added_index_by_id.find(id);
    if (it != impl_->added_index_by_id.end()) return impl_->added[it->second].content;
    const std::string* token = impl_->model->id_to_token(id);
    return token ? *token : std::string();
}

bool Tokenizer::is_special(int id) const {
    auto it = impl_->added_index_by_id.find(id);
    return it != impl_->added_index_by_id.end() && impl_->added[it->second].special;
}

int Tokenizer::vocab_size() const {
    return impl_->vocab_size;
}

}  // namespace stride
