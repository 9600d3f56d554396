// Qwen's ChatML template, rendered in C++ instead of running the Jinja `chat_template`:
//   <|im_start|>{role}\n{content}<|im_end|>\n   per message, then <|im_start|>assistant\n
// when a generation prompt is asked for. No default system message is added (Qwen3 adds none).
#pragma once
#include <string>
#include <vector>

namespace stride {

struct ChatMessage {
    std::string role;  // "system", "user", "assistant", ...
    std::string content;
    bool operator==(const ChatMessage&) const = default;
};

// Throws Error for an empty role or a role containing a newline or '<|' (it would corrupt the markup).
std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

}  // namespace stride
