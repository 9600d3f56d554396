// `stride generate` in the full binary: the engine's command (model/cli/generate_cmd.cpp) with --chat
// rendering the model's own chat_template, as data.chat_template: auto does for a job's prompts
// (job/chat_template.h: tokenizer_config.json beside tokenizer.json, its special tokens and default
// system prompt). A model without a template falls back on the engine's built-in wrap.
#include <filesystem>
#include <string>

#include "job/chat_template.h"
#include "model/cli/commands.h"
#include "scheduler/cli_commands.h"

namespace stride::cli {

namespace {

std::string render_with_model_template(const std::string& model_dir, const std::string& tokenizer_path,
                                       const std::string& prompt) {
    const std::string tok = tokenizer_path.empty() ? model_dir + "/tokenizer.json" : tokenizer_path;
    std::string missing;
    // A template that is there but outside the Jinja subset is an error, never a silent fallback.
    const auto tmpl = load_job_chat_template(tok, &missing);
    if (!tmpl) return "";
    return tmpl->render(std::vector<ChatMessage>{{"user", prompt}}, /*add_generation_prompt=*/true);
}

}  // namespace

int generate_with_model_template(int argc, char** argv) {
    return generate_with(argc, argv, render_with_model_template);
}

}  // namespace stride::cli
