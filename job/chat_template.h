// The model's own chat template: `chat_template` of tokenizer_config.json, rendered by the Jinja
// subset (common/jinja) as transformers' apply_chat_template does. `data.chat_template: auto` uses it
// for prompts given as chat messages; `stride chat render` shows what it produces.
//
// The template sees: messages, tools (null unless given), documents (null), add_generation_prompt,
// and the tokenizer's special tokens as strings (bos_token, eos_token, unk_token, sep_token,
// pad_token, cls_token, mask_token, additional_special_tokens) — so a template's own default system
// prompt, BOS and turn markers come out exactly as the model was trained with.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/jinja/jinja.h"
#include "model/tokenizer/chat_template.h"  // ChatMessage

namespace stride {

class ModelChatTemplate {
   public:
    // Reads and checks tokenizer_config.json: chat_template (a string, or a list of {name, template}
    // of which "default" is used), the special-token keys (a string, null, or an added-token object
    // with a string "content"), additional_special_tokens (a list of those). Parses the template, so
    // a construct outside the subset is refused here. Throws Error "FILE: 'key' ..." naming the key.
    static ModelChatTemplate load(const std::string& tokenizer_config_path);

    // messages: a JSON list of message objects (role, content, and whatever else the template reads:
    // tool_calls, reasoning_content ...); tools: a JSON list, or null.
    std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                       const nlohmann::ordered_json& tools = nullptr) const;
    std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

    const std::string& path() const { return path_; }

   private:
    std::string path_;
    std::shared_ptr<const jinja::Template> template_;
    nlohmann::ordered_json special_;  // the special-token variables, as the template sees them
};

// Where a job finds the model's tokenizer_config.json: beside its tokenizer.json (the `tokenizer` key,
// or model.path).
std::string tokenizer_config_path_for(const std::string& tokenizer_json_path);

// The job's template for data.chat_template: auto, loaded (and checked) at load. Null when there is no
// tokenizer_config.json or it has no chat_template (a base model): `missing` then says so, and only a
// prompt given as chat messages is an error. A template that is there but bad is an Error naming
// data.chat_template, the file and the key.
std::shared_ptr<const ModelChatTemplate> load_job_chat_template(const std::string& tokenizer_json_path,
                                                                std::string* missing);

}  // namespace stride
