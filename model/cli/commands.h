// Engine subcommands of the `stride` binary (arguments parsed by model/cli/parser.h). Each takes the
// arguments after its name and returns the process exit code; errors are printed to stderr as "stride <cmd>:
// <message>".
#pragma once
#include <functional>
#include <string>

namespace stride::cli {

// How `generate --chat` turns the user's prompt into the model's input text: given the checkpoint
// directory and the tokenizer.json path, the rendering; "" to fall back on the built-in wrap of the
// model family. The engine alone has only the built-in wrap; the full binary renders the model's own
// chat_template (scheduler/cli_generate.cpp).
using ChatRenderer = std::function<std::string(const std::string& model_dir,
                                               const std::string& tokenizer_path, const std::string& prompt)>;
int generate_with(int argc, char** argv, const ChatRenderer& render_chat);

int init_model(int argc, char** argv);  // stride init-model --arch ... --out DIR
int logprobs(int argc, char** argv);    // stride logprobs --model DIR  (JSON lines on stdin)
int generate(int argc, char** argv);    // stride generate --model DIR [--tokenizer FILE] --prompt TEXT
int tokenize(int argc,
             char** argv);  // stride tokenize --tokenizer FILE (or --model DIR; JSON strings on stdin)
int detokenize(int argc, char** argv);  // stride detokenize --tokenizer FILE (JSON id arrays on stdin)

}  // namespace stride::cli
