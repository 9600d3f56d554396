#include "job/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base/error.h"

namespace stride {

namespace {

using ojson = nlohmann::ordered_json;

// A special token as tokenizer_config.json writes it: "text", null, or an added-token object
// {"content": "text", ...} (older files add "__type": "AddedToken"). Returns the text, or null.
ojson token_text(const ojson& v, const std::string& file, const std::string& key) {
    if (v.is_null() || v.is_string()) return v;
    if (v.is_object()) {
        auto it = v.find("content");
        STRIDE_CHECK(it != v.end() && it->is_string(),
                     file + ": '" + key + "' is an object without a string 'content'");
        return *it;
    }
    throw Error(file + ": '" + key + "' must be a string, null or an added-token object, got " +
                std::string(v.type_name()));
}

}  // namespace

std::string tokenizer_config_path_for(const std::string& tokenizer_json_path) {
    return (std::filesystem::path(tokenizer_json_path).parent_path() / "tokenizer_config.json").string();
}

std::shared_ptr<const ModelChatTemplate> load_job_chat_template(const std::string& tokenizer_json_path,
                                                                std::string* missing) {
    if (tokenizer_json_path.empty()) {
        *missing = "neither tokenizer nor model.path is set";
        return nullptr;
    }
    const std::string file = tokenizer_config_path_for(tokenizer_json_path);
    if (!std::filesystem::exists(file)) {
        *missing = file + " does not exist";
        return nullptr;
    }
    try {
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        ojson cfg = ojson::parse(text.str(), nullptr, /*allow_exceptions=*/false);
        if (cfg.is_object() && (!cfg.contains("chat_template") || cfg["chat_template"].is_null())) {
            *missing = file + " has no 'chat_template'";
            return nullptr;
        }
        return std::make_shared<const ModelChatTemplate>(ModelChatTemplate::load(file));
    } catch (const Error& e) {
        throw Error(std::string("data.chat_template: auto: ") + e.what());
    }
}

ModelChatTemplate ModelChatTemplate::load(const std::string& file) {
    std::ifstream in(file);
    STRIDE_CHECK(in, file + ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    ojson cfg;
    try {
        cfg = ojson::parse(text.str());
    } catch (const ojson::parse_error& e) {
        throw Error(file + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    STRIDE_CHECK(cfg.is_object(), file + ": expected a JSON object");

    auto it = cfg.find("chat_template");
    STRIDE_CHECK(it != cfg.end() && !it->is_null(),
                 file +
                     ": no 'chat_template' (the model has no chat template; use data.chat_template: none "
                     "or qwen, or a tokenizer_config.json that has one)");
    std::string source;
    if (it->is_string()) {
        source = it->get<std::string>();
    } else if (it->is_array()) {
        // Named templates (transformers >= 4.43): [{"name": "default", "template": "..."}, {"name":
        // "tool_use", ...}]
        for (size_t i = 0; i < it->size(); ++i) {
            const ojson& t = (*it)[i];
            std::string at = file + ": 'chat_template'[" + std::to_string(i) + "]";
            STRIDE_CHECK(t.is_object() && t.contains("name") && t["name"].is_string() &&
                             t.contains("template") && t["template"].is_string(),
                         at + ": expected {\"name\": string, \"template\": string}");
            if (t["name"] == "default") source = t["template"].get<std::string>();
        }
        STRIDE_CHECK(!source.empty(),
                     file + ": 'chat_template' is a list without a template named \"default\"");
    } else {
        throw Error(file + ": 'chat_template' must be a string or a list of {name, template}, got " +
                    std::string(it->type_name()));
    }

    ModelChatTemplate t;
    t.path_ = file;
    t.special_ = ojson::object();
    for (const char* key :
         {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
        auto k = cfg.find(key);
        if (k == cfg.end()) continue;
        ojson v = token_text(*k, file, key);
        if (!v.is_null()) t.special_[key] = v;  // transformers passes only the tokens that are set
    }
    if (auto k = cfg.find("additional_special_tokens"); k != cfg.end() && !k->is_null()) {
        STRIDE_CHECK(k->is_array(), file + ": 'additional_special_tokens' must be a list, got " +
                                        std::string(k->type_name()));
        ojson list = ojson::array();
        for (size_t i = 0; i < k->size(); ++i) {
            ojson v = token_text((*k)[i], file, "additional_special_tokens[" + std::to_string(i) + "]");
            STRIDE_CHECK(!v.is_null(),
                         file + ": 'additional_special_tokens[" + std::to_string(i) + "]' is null");
            list.push_back(v);
        }
        t.special_["additional_special_tokens"] = list;
    }
    t.template_ = std::make_shared<const jinja::Template>(source, file + ": chat_template");
    return t;
}

std::string ModelChatTemplate::render(const ojson& messages, bool add_generation_prompt,
                                      const ojson& tools) const {
    STRIDE_CHECK(messages.is_array(), "chat template: 'messages' must be a list of message objects");
    for (size_t i = 0; i < messages.size(); ++i) {
        const ojson& m = messages[i];
        STRIDE_CHECK(m.is_object() && m.contains("role") && m["role"].is_string(),
                     "chat template: messages[" + std::to_string(i) + "] needs a string 'role'");
    }
    STRIDE_CHECK(tools.is_null() || tools.is_array(), "chat template: 'tools' must be a list or null");
    ojson ctx = special_;
    ctx["messages"] = messages;
    ctx["tools"] = tools;
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = add_generation_prompt;
    return template_->render(ctx);
}

std::string ModelChatTemplate::render(const std::vector<ChatMessage>& messages,
                                      bool add_generation_prompt) const {
    ojson list = ojson::array();
    for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
    return render(list, add_generation_prompt);
}

}  // namespace stride
