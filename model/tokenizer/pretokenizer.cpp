#include "model/tokenizer/pretokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/base/error.h"
#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/regex.h"

namespace stride::tok {

using Behavior = PreTokenizer::Behavior;
using Step = PreTokenizer::Step;
using Spans = std::vector<std::pair<size_t, size_t>>;

// ---- loading -------------------------------------------------------------------------------------

static Behavior parse_behavior(const nlohmann::json& j, const std::string& where) {
    STRIDE_CHECK(j.is_string(), where + ": Split pre_tokenizer needs a string \"behavior\"");
    const std::string b = j;
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    throw Error(where + ": unknown Split behavior '" + b + "'");
}

static std::shared_ptr<Regex> compile(const std::string& pattern, const std::string& where) {
    try {
        return std::make_shared<Regex>(pattern);
    } catch (const Error& e) {
        throw Error(where + ": pre_tokenizer " + e.what());
    }
}

static void add_steps(const nlohmann::json& j, const std::string& where, std::vector<Step>& steps) {
    if (j.is_null()) return;
    STRIDE_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(),
                 where + ": pre_tokenizer must be an object with a \"type\"");
    const std::string type = j["type"];
    Step s;
    if (type == "Sequence") {
        STRIDE_CHECK(j.contains("pretokenizers") && j["pretokenizers"].is_array(),
                     where + ": Sequence pre_tokenizer needs a \"pretokenizers\" array");
        for (const auto& p : j["pretokenizers"]) add_steps(p, where, steps);
        return;
    } else if (type == "Split") {
        STRIDE_CHECK(j.contains("pattern") && j["pattern"].is_object(),
                     where + ": Split pre_tokenizer needs a \"pattern\" object");
        const auto& p = j["pattern"];
        if (p.contains("Regex") && p["Regex"].is_string()) {
            s.regex = compile(p["Regex"].get<std::string>(), where);
        } else if (p.contains("String") && p["String"].is_string()) {
            s.regex = compile(Regex::escape(p["String"].get<std::string>()), where);
        } else {
            throw Error(where + ": Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
        }
        s.behavior = parse_behavior(j.value("behavior", nlohmann::json()), where);
        s.invert = j.value("invert", false);
    } else if (type == "ByteLevel") {
        s.byte_level = true;
        s.add_prefix_space = j.value("add_prefix_space", true);
        if (j.value("use_regex", true)) s.regex = compile(kGpt2Pattern, where);
    } else {
        throw Error(where + ": unsupported pre_tokenizer type '" + type +
                    "' (supported: Split, ByteLevel, Sequence, null)");
    }
    steps.push_back(std::move(s));
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j, const std::string& where) {
    PreTokenizer p;
    add_steps(j, where, p.steps_);
    return p;
}

bool PreTokenizer::has_byte_level() const {
    for (const auto& s : steps_)
        if (s.byte_level) return true;
    return false;
}

// ---- splitting -----------------------------------------------------------------------------------

// Cuts `text` by the matches of `re` following HF's NormalizedString::split: the matches and the gaps
// between them are tagged, then grouped by `behavior`; empty pieces are dropped.
static void split_by(const Regex& re, Behavior behavior, bool invert, std::string_view text,
                     std::vector<std::string>& out) {
    thread_local Spans found;
    re.find_all(text, found);

    struct Part {
        size_t begin, end;
        bool is_match;
    };
    thread_local std::vector<Part> parts;
    parts.clear();
    size_t prev = 0;
    for (auto [b, e] : found) {
        if (prev != b) parts.push_back({prev, b, invert});
        parts.push_back({b, e, !invert});
        prev = e;
    }
    if (prev != text.size()) parts.push_back({prev, text.size(), invert});

    thread_local Spans kept;
    kept.clear();
    bool previous_match = false;
    switch (behavior) {
        case Behavior::Isolated:
            for (const auto& p : parts) kept.emplace_back(p.begin, p.end);
            break;
        case Behavior::Removed:
            for (const auto& p : parts)
                if (!p.is_match) kept.emplace_back(p.begin, p.end);
            break;
        case Behavior::Contiguous:
            for (const auto& p : parts) {
                if (p.is_match == previous_match && !kept.empty()) {
                    kept.back().second = p.end;
                } else {
                    kept.emplace_back(p.begin, p.end);
                }
                previous_match = p.is_match;
            }
            break;
        case Behavior::MergedWithPrevious:
            for (const auto& p : parts) {
                if (p.is_match && !previous_match && !kept.empty()) {
                    kept.back().second = p.end;
                } else {
                    kept.emplace_back(p.begin, p.end);
                }
                previous_match = p.is_match;
            }
            break;
        case Behavior::MergedWithNext:
            // Walks right to left: a match joins the piece that follows it.
            for (size_t k = parts.size(); k-- > 0;) {
                const auto& p = parts[k];
                if (p.is_match && !previous_match && !kept.empty()) {
                    kept.back().first = p.begin;
                } else {
                    kept.emplace_back(p.begin, p.end);
                }
                previous_match = p.is_match;
            }
            std::reverse(kept.begin(), kept.end());
            break;
    }
    for (auto [b, e] : kept)
        if (e > b) out.emplace_back(text.substr(b, e - b));
}

void PreTokenizer::split(std::string_view text, std::vector<std::string>& pieces) const {
    pieces.clear();
    if (text.empty()) return;
    pieces.emplace_back(text);
    std::vector<std::string> next;
    for (const Step& s : steps_) {
        next.clear();
        for (const std::string& piece : pieces) {
            if (!s.byte_level) {
                split_by(*s.regex, s.behavior, s.invert, piece, next);
                continue;
            }
            std::string with_space;
            std::string_view src = piece;
            if (s.add_prefix_space && piece[0] != ' ') {
                with_space = " " + piece;
                src = with_space;
            }
            size_t first = next.size();
            if (s.regex) {
                split_by(*s.regex, Behavior::Isolated, false, src, next);
            } else {
                next.emplace_back(src);
            }
            for (size_t k = first; k < next.size(); ++k) {
                std::string mapped;
                byte_level_encode(next[k], mapped);
                next[k] = std::move(mapped);
            }
        }
        pieces.swap(next);
    }
}

}  // namespace stride::tok
