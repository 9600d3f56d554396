#include "model/tokenizer/bpe.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/base/error.h"
#include "model/tokenizer/utf8.h"

namespace stride::tok {

// Pieces longer than this are not cached (HF's limit too); the cache is dropped when it gets this big.
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 17;
constexpr uint32_t kSmallCharLimit = 0x400;  // the byte-level alphabet ends at U+0143

// ---- loading -------------------------------------------------------------------------------------

static bool is_unset_string(const nlohmann::json& j, const char* key) {
    return !j.contains(key) || j[key].is_null() || (j[key].is_string() && j[key].get<std::string>().empty());
}

// How far past the number of vocab entries an id may go (gaps in the numbering).
constexpr size_t kVocabIdSlack = 65536;

std::unique_ptr<BpeModel> BpeModel::from_json(const nlohmann::json& m, const std::string& where) {
    STRIDE_CHECK(m.is_object(), where + ": missing \"model\" object");
    std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "";
    if (type.empty() && m.contains("merges")) type = "BPE";  // old files leave the type out
    STRIDE_CHECK(type == "BPE", where + ": unsupported model type '" + type + "' (only BPE is supported)");
    STRIDE_CHECK(m.contains("vocab") && m["vocab"].is_object(),
                 where + ": BPE model has no \"vocab\" object");
    STRIDE_CHECK(m.contains("merges") && m["merges"].is_array(),
                 where + ": BPE model has no \"merges\" array");
    STRIDE_CHECK(!m.contains("dropout") || m["dropout"].is_null() || m["dropout"].get<double>() == 0.0,
                 where + ": BPE dropout is not supported");
    STRIDE_CHECK(!m.value("byte_fallback", false), where + ": BPE byte_fallback is not supported");
    STRIDE_CHECK(is_unset_string(m, "continuing_subword_prefix"),
                 where + ": BPE continuing_subword_prefix is not supported");
    STRIDE_CHECK(is_unset_string(m, "end_of_word_suffix"),
                 where + ": BPE end_of_word_suffix is not supported");

    auto bpe = std::make_unique<BpeModel>();
    const auto& vocab = m["vocab"];
    bpe->vocab_.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        STRIDE_CHECK(it.value().is_number_integer() && it.value().get<long long>() >= 0 &&
                         it.value().get<long long>() < (1LL << 30),
                     where + ": vocab entry '" + it.key() + "' needs a non-negative integer id");
        int id = it.value().get<int>();
        // Ids index a table: one far beyond the number of entries would allocate gigabytes of empty
        // slots (a bare bad_alloc) for a vocab that is dense in every real tokenizer.json.
        STRIDE_CHECK(static_cast<size_t>(id) < vocab.size() + kVocabIdSlack,
                     where + ": vocab entry '" + it.key() + "' has id " + std::to_string(id) +
                         ", far beyond the " + std::to_string(vocab.size()) +
                         " entries of the vocab (ids must be below entries + " +
                         std::to_string(kVocabIdSlack) + ")");
        if (static_cast<size_t>(id) >= bpe->tokens_.size()) bpe->tokens_.resize(id + 1);
        STRIDE_CHECK(bpe->tokens_[id].empty(), where + ": vocab id " + std::to_string(id) +
                                                   " is used by both '" + bpe->tokens_[id] + "' and '" +
                                                   it.key() + "'");
        STRIDE_CHECK(!it.key().empty(), where + ": vocab has an empty token");
        bpe->tokens_[id] = it.key();
        bpe->vocab_.emplace(it.key(), id);
    }

    bpe->small_char_ids_.assign(kSmallCharLimit, -1);
    for (const auto& [token, id] : bpe->vocab_) {
        size_t i = 0;
        uint32_t cp = utf8_next(token, i);
        if (i == token.size() && cp < kSmallCharLimit) bpe->small_char_ids_[cp] = id;
    }

    // Merges come as "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs; rank = position. A pair
    // listed twice keeps its later rank, as HF's map insertion does.
    const auto& merges = m["merges"];
    bpe->merges_.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& e = merges[rank];
        std::string a, b;
        std::string what = where + ": merge " + std::to_string(rank);
        if (e.is_string()) {
            const std::string s = e;
            size_t sp = s.find(' ');
            STRIDE_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
                         what + " '" + s + "' is not two tokens separated by one space");
            a = s.substr(0, sp);
            b = s.substr(sp + 1);
        } else {
            STRIDE_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(),
                         what + " must be \"a b\" or [\"a\", \"b\"]");
            a = e[0];
            b = e[1];
        }
        int ia = bpe->token_to_id(a), ib = bpe->token_to_id(b), iab = bpe->token_to_id(a + b);
        STRIDE_CHECK(ia >= 0, what + " references '" + a + "', which is not in the vocab");
        STRIDE_CHECK(ib >= 0, what + " references '" + b + "', which is not in the vocab");
        STRIDE_CHECK(iab >= 0, what + " produces '" + a + b + "', which is not in the vocab");
        bpe->merges_[pair_key(ia, ib)] = Merge{static_cast<int>(rank), iab};
    }

    if (m.contains("unk_token") && m["unk_token"].is_string()) {
        const std::string unk = m["unk_token"];
        bpe->unk_id_ = bpe->token_to_id(unk);
        STRIDE_CHECK(bpe->unk_id_ >= 0, where + ": unk_token '" + unk + "' is not in the vocab");
    }
    bpe->fuse_unk_ = m.value("fuse_unk", false);
    bpe->ignore_merges_ = m.value("ignore_merges", false);
    return bpe;
}

int BpeModel::token_to_id(std::string_view token) const {
    auto it = vocab_.find(token);
    return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int id) const {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || tokens_[id].empty()) return nullptr;
    return &tokens_[id];
}

// ---- encoding ------------------------------------------------------------------------------------

void BpeModel::tokenize(std::string_view word, std::vector<int>& out) const {
    if (word.empty()) return;
    if (ignore_merges_) {
        // Llama-3: a piece that is itself a vocab entry is emitted whole, without merging.
        int id = token_to_id(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    bool cacheable = word.size() <= kMaxCachedWordBytes;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(word);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    size_t start = out.size();
    merge_word(word, out);
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.size() >= kMaxCacheEntries) cache_.clear();
        cache_.emplace(std::string(word), std::vector<int>(out.begin() + start, out.end()));
    }
}

// Port of HF's Word::merge_all: symbols form a linked list; a min-heap ordered by (rank, position)
// yields the next pair to merge; entries made stale by an earlier merge are detected and skipped.
void BpeModel::merge_word(std::string_view word, std::vector<int>& out) const {
    struct Symbol {
        int id;
        int prev, next;  // neighbours in the list, -1 at the ends
        bool alive;
    };
    thread_local std::vector<Symbol> symbols;
    symbols.clear();

    // One symbol per character; characters missing from the vocab become unk (fused if asked) or
    // vanish when there is no unk_token, as in HF.
    bool pending_unk = false;  // an unk symbol waits to be added (so that fuse_unk can grow it)
    auto add = [&](int id) {
        int n = static_cast<int>(symbols.size());
        symbols.push_back({id, n - 1, -1, true});
    };
    for (size_t i = 0; i < word.size();) {
        size_t begin = i;
        uint32_t cp = utf8_next(word, i);
        int id = cp < kSmallCharLimit ? small_char_ids_[cp] : token_to_id(word.substr(begin, i - begin));
        if (id >= 0) {
            if (pending_unk) {
                add(unk_id_);
                pending_unk = false;
            }
            add(id);
        } else if (unk_id_ >= 0) {
            if (pending_unk && !fuse_unk_) add(unk_id_);
            pending_unk = true;
        }
    }
    if (pending_unk) add(unk_id_);
    const int n = static_cast<int>(symbols.size());
    for (int k = 0; k + 1 < n; ++k) symbols[k].next = k + 1;

    struct Candidate {
        int rank, pos, merged_id;
    };
    // std::*_heap keep the largest on top; "larger" here means lower rank, then leftmost position.
    auto later = [](const Candidate& a, const Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    thread_local std::vector<Candidate> heap;
    heap.clear();
    auto push_pair = [&](int left) {
        int right = symbols[left].next;
        if (right < 0) return;
        auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
        if (it == merges_.end()) return;
        heap.push_back({it->second.rank, left, it->second.merged_id});
        std::push_heap(heap.begin(), heap.end(), later);
    };
    for (int k = 0; k + 1 < n; ++k) push_pair(k);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        Candidate top = heap.back();
        heap.pop_back();
        Symbol& left = symbols[top.pos];
        if (!left.alive || left.next < 0) continue;
        Symbol& right = symbols[left.next];
        auto it = merges_.find(pair_key(left.id, right.id));
        if (it == merges_.end() || it->second.merged_id != top.merged_id) continue;  // stale entry
        left.id = top.merged_id;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = top.pos;
        if (left.prev >= 0) push_pair(left.prev);
        push_pair(top.pos);
    }
    for (const Symbol& s : symbols)
        if (s.alive) out.push_back(s.id);
}

}  // namespace stride::tok
