// Reads tokenizer.json into Tokenizer::Impl, rejecting what we cannot reproduce exactly with an Error
// that names the file and the component.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/error.h"
#include "model/tokenizer/tokenizer_impl.h"

namespace stride {

using nlohmann::json;

static bool parse_decoder(const json& j, const std::string& where) {
    if (j.is_null()) return false;
    STRIDE_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(),
                 where + ": decoder must be an object with a \"type\"");
    const std::string type = j["type"];
    if (type == "ByteLevel") return true;
    throw Error(where + ": unsupported decoder type '" + type + "' (supported: ByteLevel, null)");
}

// HF ignores the ids written in `added_tokens` and assigns its own (the vocab id for a token that is
// also a vocab entry, else the next free id past the vocab). A file whose ids disagree would make us
// silently differ from HF, so it is an error.
static void parse_added_tokens(const json& j, Tokenizer::Impl& t, const std::string& where) {
    if (j.is_null()) return;
    STRIDE_CHECK(j.is_array(), where + ": \"added_tokens\" must be an array");
    const int model_size = static_cast<int>(t.model->vocab_entries());
    int max_added = -1;
    for (size_t i = 0; i < j.size(); ++i) {
        const json& e = j[i];
        std::string what = where + ": added_tokens[" + std::to_string(i) + "]";
        STRIDE_CHECK(e.is_object() && e.contains("content") && e["content"].is_string(),
                     what + " needs a string \"content\"");
        tok::AddedToken a;
        a.content = e["content"];
        STRIDE_CHECK(!a.content.empty(), what + " has empty content");
        STRIDE_CHECK(!t.added_id_by_content.count(a.content), what + " '" + a.content + "' is listed twice");
        STRIDE_CHECK(e.contains("id") && e["id"].is_number_integer(), what + " needs an integer \"id\"");
        a.special = e.value("special", false);
        a.normalized = e.value("normalized", !a.special);
        a.lstrip = e.value("lstrip", false);
        a.rstrip = e.value("rstrip", false);
        a.single_word = e.value("single_word", false);

        int vocab_id = t.model->token_to_id(a.content);
        int expected = vocab_id >= 0             ? vocab_id
                       : max_added < 0           ? model_size
                       : max_added >= model_size ? max_added + 1
                                                 : model_size;
        a.id = e["id"].get<int>();
        STRIDE_CHECK(a.id == expected, what + " '" + a.content + "' has id " + std::to_string(a.id) +
                                           " but HF tokenizers would give it id " + std::to_string(expected) +
                                           " (added tokens must follow the vocab in order)");
        max_added = std::max(max_added, a.id);
        int index = static_cast<int>(t.added.size());
        t.added_index_by_id[a.id] = index;
        t.added_id_by_content.emplace(a.content, a.id);
        if (a.normalized) {
            t.normalized_matcher.add(t.normalizer.apply(a.content), index);
        } else {
            t.raw_matcher.add(a.content, index);
        }
        t.added.push_back(std::move(a));
    }
}

Tokenizer Tokenizer::from_json_text(std::string_view json_text, const std::string& source) {
    auto t = std::make_shared<Impl>();
    t->source = source;
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::exception& e) {
        throw Error(source + ": invalid JSON: " + e.what());
    }
    try {
        STRIDE_CHECK(j.is_object(), source + ": a tokenizer.json must hold a JSON object");
        STRIDE_CHECK(j.contains("model"), source + ": missing \"model\"");
        t->normalizer = tok::Normalizer::from_json(j.value("normalizer", json()), source);
        t->pre_tokenizer = tok::PreTokenizer::from_json(j.value("pre_tokenizer", json()), source);
        t->model = tok::BpeModel::from_json(j["model"], source);
        t->byte_level_decoder = parse_decoder(j.value("decoder", json()), source);
        parse_added_tokens(j.value("added_tokens", json()), *t, source);
        // post_processor, truncation and padding only matter when HF adds special tokens or pads,
        // which encode() never does.
    } catch (const json::exception& e) {
        throw Error(source + ": unexpected structure: " + e.what());
    }
    t->vocab_size = t->model->max_id() + 1;
    for (const auto& a : t->added) t->vocab_size = std::max(t->vocab_size, a.id + 1);
    return Tokenizer(std::move(t));
}

Tokenizer Tokenizer::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    STRIDE_CHECK(in.good(), path + ": cannot open tokenizer file");
    std::ostringstream text;
    text << in.rdbuf();
    STRIDE_CHECK(!in.bad(), path + ": read error");
    return from_json_text(text.str(), path);
}

}  // namespace stride
