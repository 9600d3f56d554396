#include "model/tokenizer/chat_template.h"

#include "common/base/error.h"

namespace stride {

std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        STRIDE_CHECK(!m.role.empty() && m.role.find('\n') == std::string::npos &&
                         m.role.find("<|") == std::string::npos,
                     "chat template: message " + std::to_string(i) + " has an invalid role '" + m.role + "'");
        out += "<|im_start|>";
        out += m.role;
        out += '\n';
        out += m.content;
        out += "<|im_end|>\n";
    }
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
}

}  // namespace stride
