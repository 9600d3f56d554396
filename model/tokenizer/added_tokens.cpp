#include "model/tokenizer/added_tokens.h"

#include "model/tokenizer/utf8.h"

namespace stride::tok {

int AddedTokenMatcher::child(int node, unsigned char b) const {
    if (node == 0) return root_children_[b];
    for (const auto& [c, n] : nodes_[node].children)
        if (c == b) return n;
    return -1;
}

void AddedTokenMatcher::add(std::string_view pattern, int token) {
    if (pattern.empty()) return;  // HF ignores empty added tokens
    int node = 0;
    for (unsigned char b : pattern) {
        int next = child(node, b);
        if (next < 0) {
            next = static_cast<int>(nodes_.size());
            nodes_.emplace_back();
            if (node == 0) {
                root_children_[b] = next;
            } else {
                nodes_[node].children.emplace_back(b, next);
            }
        }
        node = next;
    }
    if (nodes_[node].token < 0) nodes_[node].token = token;  // first of duplicate contents wins
}

// Last / first code point of a string, or none.
static bool last_char(std::string_view s, uint32_t& cp) {
    if (s.empty()) return false;
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    cp = utf8_next(s, i);
    return true;
}
static bool first_char(std::string_view s, uint32_t& cp) {
    if (s.empty()) return false;
    size_t i = 0;
    cp = utf8_next(s, i);
    return true;
}

void AddedTokenMatcher::split(std::string_view text, const std::vector<AddedToken>& tokens,
                              bool allow_special, std::vector<Segment>& out) const {
    out.clear();
    size_t done = 0;  // end of the last emitted segment
    size_t pos = 0;
    while (!empty() && pos < text.size()) {
        // Leftmost-longest: the longest token starting at the first position where any token starts.
        int node = 0, token = -1;
        size_t len = 0;
        for (size_t k = pos; k < text.size(); ++k) {
            node = child(node, static_cast<unsigned char>(text[k]));
            if (node < 0) break;
            if (nodes_[node].token >= 0) token = nodes_[node].token, len = k + 1 - pos;
        }
        if (token < 0) {
            ++pos;
            continue;
        }
        size_t start = pos, stop = pos + len;
        pos = stop;  // matches never overlap, even those rejected below (as with HF's aho-corasick)
        const AddedToken& t = tokens[token];
        if (t.special && !allow_special) continue;
        if (start < done) continue;  // swallowed by the previous token's rstrip
        uint32_t cp;
        if (t.single_word) {
            bool word_before = last_char(text.substr(0, start), cp) && is_word_char(cp);
            bool word_after = first_char(text.substr(stop), cp) && is_word_char(cp);
            if (word_before || word_after) continue;
        }
        if (t.lstrip) {
            while (start > done && last_char(text.substr(0, start), cp) && is_unicode_whitespace(cp)) {
                do --start;
                while ((static_cast<unsigned char>(text[start]) & 0xC0) == 0x80);
            }
        }
        if (t.rstrip) {
            while (first_char(text.substr(stop), cp) && is_unicode_whitespace(cp)) {
                size_t i = stop;
                utf8_next(text, i);
                stop = i;
            }
            pos = stop;
        }
        if (done < start) out.push_back({done, start, -1});
        out.push_back({start, stop, token});
        done = stop;
    }
    if (done < text.size() || out.empty()) out.push_back({done, text.size(), -1});
}

}  // namespace stride::tok
