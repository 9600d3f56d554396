// Prompt datasets: JSONL files, one example per line, or Parquet files (verl's format: one example per
// row, read by job/parquet/parquet_reader.h), each with a prompt and a reference answer.
//
//   {"prompt": "321+540=", "answer": "861"}
//   {"prompt": [{"role": "user", "content": "What is 1+1?"}], "answer": 2}          (verl chat form)
//   {"prompt": [...], "reward_model": {"ground_truth": "2"}}                          (verl nesting)
//   {"data_source": "gsm8k", "extra_info": {"split": "test"}, "prompt": ..., "answer": ...}
//
// The prompt is a string or a list of {role, content} messages, rendered to the text the model sees
// by a chat template: auto (the model's own, job/chat_template.h, for message lists; strings as they
// are), none or qwen. The answer is a string or a number. Keys are dotted paths
// (data.prompt_key / data.answer_key). Bad lines are errors naming the file and line.
//
// A dataset can also be a generator spec, `gen:TASK?n=N&seed=S&digits=D&op=add|mul&max_len=K`, made by
// `stride data gen` (job/data_gen.h); this header only parses and checks the spec.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/gen_spec.h"
#include "job/chat_template.h"
#include "model/tokenizer/chat_template.h"  // ChatMessage

namespace stride {

struct Example {
    std::string prompt;                 // the text the model sees (chat template applied)
    std::vector<ChatMessage> messages;  // the chat form as given; empty for plain-string prompts
    std::string answer;                 // reference answer as text
    std::string where;                  // "file.jsonl:12", for messages about this example
    // verl's per-row keys, passed on to plug-in and Python rewards (RewardInput): the dataset's name,
    // and its extras as JSON object text. "" when the row has none.
    std::string data_source;
    std::string extra_info_json;
    // The ground truth as the row holds it, as JSON text, when it is not a string (a number, a list,
    // an object, a bool): Python rewards get it with its type, as verl's compute_score does. "" for a
    // string (then `answer` is it). Last, so that positional initialisers stay valid.
    std::string answer_json;
};

struct DatasetKeys {
    std::string prompt_key = "prompt";
    std::string answer_key = "answer";
    std::string chat_template = "none";  // auto | none | qwen
    // auto: the model's template; null when there is none, and model_template_missing says why (the
    // error a message list then gets).
    std::shared_ptr<const ModelChatTemplate> model_template;
    std::string model_template_missing;
};

// One JSONL line; `where` ("file:line") prefixes every error.
Example parse_example_line(const std::string& line, const std::string& where, const DatasetKeys& keys);
// Every non-blank line of a JSONL file. Throws Error "file:line: ..." on the first bad line.
std::vector<Example> load_jsonl_dataset(const std::string& path, const DatasetKeys& keys);
// A row of a Parquet file (or any JSON object), as parse_example_line takes a line.
Example parse_example_row(const nlohmann::ordered_json& row, const std::string& where,
                          const DatasetKeys& keys);
// Every row of a Parquet file, read one row group at a time. Errors name the file and the row.
std::vector<Example> load_parquet_dataset(const std::string& path, const DatasetKeys& keys);
// A .parquet file or a JSONL file, by the path's suffix.
std::vector<Example> load_dataset_file(const std::string& path, const DatasetKeys& keys);

// The rows of a dataset file as JSON objects, as the job reads them: JSONL lines (blank ones
// skipped) or Parquet rows; `where` is "file:line" or "file: row N" (from 0). Stops after max_rows
// (< 0: all) or when fn returns false. What `stride data head` prints.
using RowFn = std::function<bool(const nlohmann::ordered_json& row, const std::string& where)>;
void for_each_dataset_row(const std::string& path, int64_t max_rows, const RowFn& fn);

// Chat messages -> text. none: contents joined by blank lines; qwen: <|im_start|>role ... <|im_end|>
// turns followed by the opening of the assistant turn.
std::string render_chat(const std::vector<ChatMessage>& messages, const std::string& chat_template);
// The same, and auto: keys.model_template with add_generation_prompt (Error naming data.chat_template
// when there is none).
std::string render_chat(const std::vector<ChatMessage>& messages, const DatasetKeys& keys);

// Deterministic held-out split: a seeded shuffle, then the first eval_size examples are eval and the
// rest train. eval_size larger than the data is an error.
struct DatasetSplit {
    std::vector<Example> train;
    std::vector<Example> eval;
};
DatasetSplit split_holdout(std::vector<Example> all, int eval_size, uint64_t seed);

}  // namespace stride
