// JSONL prompt datasets, chat rendering, generator specs and the held-out split.
#include "job/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/base/error.h"
#include "job/parquet/parquet_reader.h"

namespace stride {

namespace {

using nlohmann::json;

// Follows a dotted path ("reward_model.ground_truth") through nested objects; nullptr if absent.
template <typename Json>
const Json* find_path(const Json& obj, const std::string& path) {
    const Json* cur = &obj;
    size_t start = 0;
    while (start <= path.size()) {
        size_t dot = path.find('.', start);
        if (dot == std::string::npos) dot = path.size();
        std::string part = path.substr(start, dot - start);
        if (!cur->is_object()) return nullptr;
        auto it = cur->find(part);
        if (it == cur->end()) return nullptr;
        cur = &*it;
        start = dot + 1;
    }
    return cur;
}

template <typename Json>
std::vector<ChatMessage> parse_messages(const Json& list, const std::string& where, const std::string& key) {
    STRIDE_CHECK(!list.empty(), where + ": '" + key + "' is an empty list of messages");
    std::vector<ChatMessage> out;
    for (size_t i = 0; i < list.size(); ++i) {
        const Json& m = list[i];
        std::string at = fmt::format("{}: '{}'[{}]", where, key, i);
        STRIDE_CHECK(m.is_object(), at + ": expected a {\"role\", \"content\"} object");
        auto role = m.find("role");
        auto content = m.find("content");
        STRIDE_CHECK(role != m.end() && role->is_string(), at + ": missing string 'role'");
        STRIDE_CHECK(content != m.end() && content->is_string(), at + ": missing string 'content'");
        out.push_back({role->template get<std::string>(), content->template get<std::string>()});
    }
    return out;
}

// The ground truth as text: a string as is, anything else (numbers exact, lists, objects) as its JSON.
template <typename Json>
std::string answer_text(const Json& a, const std::string& where, const std::string& key) {
    if (a.is_string()) return a.template get<std::string>();
    STRIDE_CHECK(!a.is_null(), where + ": '" + key + "' is null");
    return a.dump(-1, ' ', false, Json::error_handler_t::replace);
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

std::string render_chat(const std::vector<ChatMessage>& messages, const std::string& chat_template) {
    std::string out;
    if (chat_template == "none") {
        for (size_t i = 0; i < messages.size(); ++i) out += (i ? "\n\n" : "") + messages[i].content;
        return out;
    }
    STRIDE_CHECK(chat_template == "qwen", "unknown chat template '" + chat_template + "' (none, qwen)");
    // Qwen2/2.5 ChatML, as its tokenizer_config.json template renders it with add_generation_prompt.
    return apply_chat_template(messages, /*add_generation_prompt=*/true);
}

std::string render_chat(const std::vector<ChatMessage>& messages, const DatasetKeys& keys) {
    if (keys.chat_template != "auto") return render_chat(messages, keys.chat_template);
    STRIDE_CHECK(keys.model_template,
                 "data.chat_template: auto renders chat messages with the model's chat_template, but " +
                     (keys.model_template_missing.empty() ? std::string("there is none")
                                                          : keys.model_template_missing) +
                     " (set data.chat_template: none or qwen)");
    return keys.model_template->render(messages, /*add_generation_prompt=*/true);
}

// A row of a JSONL or Parquet file (json or ordered_json) -> an example.
template <typename Json>
Example example_from_json(const Json& obj, const std::string& where, const DatasetKeys& keys) {
    STRIDE_CHECK(obj.is_object(), where + ": expected a JSON object per line");
    Example ex;
    ex.where = where;

    const Json* prompt = find_path(obj, keys.prompt_key);
    STRIDE_CHECK(prompt, where + ": missing prompt key '" + keys.prompt_key + "'");
    if (prompt->is_string()) {
        std::string text = prompt->template get<std::string>();
        // A plain prompt under a chat template is one user turn; without one (or with auto) it is used as is.
        if (keys.chat_template == "none" || keys.chat_template == "auto") {
            ex.prompt = text;
        } else {
            ex.prompt = render_chat({{"user", text}}, keys.chat_template);
        }
    } else if (prompt->is_array()) {
        ex.messages = parse_messages(*prompt, where, keys.prompt_key);
        try {
            ex.prompt = render_chat(ex.messages, keys);
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
    } else {
        throw Error(where + ": '" + keys.prompt_key +
                    "' must be a string or a list of {role, content} messages");
    }
    STRIDE_CHECK(!ex.prompt.empty(), where + ": empty prompt");

    const Json* answer = find_path(obj, keys.answer_key);
    std::string answer_key = keys.answer_key;
    if (!answer) {  // verl stores the label as reward_model.ground_truth
        answer = find_path(obj, "reward_model.ground_truth");
        answer_key = "reward_model.ground_truth";
    }
    STRIDE_CHECK(answer,
                 where + ": missing answer key '" + keys.answer_key + "' (nor reward_model.ground_truth)");
    ex.answer = answer_text(*answer, where, answer_key);
    if (!answer->is_string()) ex.answer_json = ex.answer;

    // Optional, top-level as verl writes them; null counts as absent. extra_info must be an object:
    // rewards get it as a dict (verl's compute_score adds response_tokens and truncated to it).
    if (auto it = obj.find("data_source"); it != obj.end() && !it->is_null()) {
        STRIDE_CHECK(it->is_string(),
                     where + ": 'data_source' must be a string, got " + std::string(it->type_name()));
        ex.data_source = it->template get<std::string>();
    }
    if (auto it = obj.find("extra_info"); it != obj.end() && !it->is_null()) {
        STRIDE_CHECK(it->is_object(),
                     where + ": 'extra_info' must be a JSON object, got " + std::string(it->type_name()));
        ex.extra_info_json = it->dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    return ex;
}

Example parse_example_line(const std::string& line, const std::string& where, const DatasetKeys& keys) {
    json obj;
    try {
        obj = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
        throw Error(where + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    return example_from_json(obj, where, keys);
}

Example parse_example_row(const nlohmann::ordered_json& row, const std::string& where,
                          const DatasetKeys& keys) {
    return example_from_json(row, where, keys);
}

std::vector<Example> load_jsonl_dataset(const std::string& path, const DatasetKeys& keys) {
    std::ifstream in(path);
    STRIDE_CHECK(in, path + ": cannot open dataset");
    std::vector<Example> out;
    std::string line;
    for (size_t lineno = 1; std::getline(in, line); ++lineno) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are allowed
        out.push_back(parse_example_line(line, path + ":" + std::to_string(lineno), keys));
    }
    STRIDE_CHECK(!out.empty(), path + ": no examples");
    return out;
}

std::vector<Example> load_parquet_dataset(const std::string& path, const DatasetKeys& keys) {
    std::vector<Example> out;
    for_each_dataset_row(path, -1, [&](const nlohmann::ordered_json& row, const std::string& where) {
        out.push_back(parse_example_row(row, where, keys));
        return true;
    });
    STRIDE_CHECK(!out.empty(), path + ": no examples");
    return out;
}

std::vector<Example> load_dataset_file(const std::string& path, const DatasetKeys& keys) {
    return parquet::is_parquet_path(path) ? load_parquet_dataset(path, keys) : load_jsonl_dataset(path, keys);
}

void for_each_dataset_row(const std::string& path, int64_t max_rows, const RowFn& fn) {
    int64_t n = 0;
    if (parquet::is_parquet_path(path)) {
        parquet::Reader reader(path);
        std::vector<parquet::Row> rows;
        while ((max_rows < 0 || n < max_rows) && reader.next_row_group(rows)) {
            for (const parquet::Row& row : rows) {
                if (max_rows >= 0 && n >= max_rows) return;
                if (!fn(row, path + ": row " + std::to_string(n++))) return;
            }
        }
        return;
    }
    std::ifstream in(path);
    STRIDE_CHECK(in, path + ": cannot open dataset");
    std::string line;
    for (size_t lineno = 1; (max_rows < 0 || n < max_rows) && std::getline(in, line); ++lineno) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path + ":" + std::to_string(lineno);
        nlohmann::ordered_json row;
        try {
            row = nlohmann::ordered_json::parse(line);
        } catch (const nlohmann::ordered_json::parse_error& e) {
            throw Error(where + ": not valid JSON (" + std::string(e.what()) + ")");
        }
        ++n;
        if (!fn(row, where)) return;
    }
}

DatasetSplit split_holdout(std::vector<Example> all, int eval_size, uint64_t seed) {
    STRIDE_CHECK(
        eval_size >= 0 && static_cast<size_t>(eval_size) < all.size() + (eval_size == 0 ? 1 : 0),
        fmt::format("data.eval_size = {} leaves no training examples out of {}", eval_size, all.size()));
    // Fisher-Yates with our own generator: std::shuffle's result differs between standard libraries.
    uint64_t state = seed ^ 0x5EED0F5E1D0A7A5Eull;
    for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[splitmix64(state) % i]);
    DatasetSplit s;
    s.eval.assign(std::make_move_iterator(all.begin()), std::make_move_iterator(all.begin() + eval_size));
    s.train.assign(std::make_move_iterator(all.begin() + eval_size), std::make_move_iterator(all.end()));
    return s;
}

}  // namespace stride
