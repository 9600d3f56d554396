// Engine subcommands of the `stride` binary (arguments parsed by model/cli/parser.h). Each takes the
// arguments after its name and returns the process exit code; errors are printed to stderr as "stride <cmd>:
// <message>".
#pragma once

namespace stride::cli {

int init_model(int argc, char** argv);  // stride init-model --arch ... --out DIR
int logprobs(int argc, char** argv);    // stride logprobs --model DIR  (JSON lines on stdin)
int generate(int argc, char** argv);    // stride generate --model DIR [--tokenizer FILE] --prompt TEXT
int tokenize(int argc,
             char** argv);  // stride tokenize --tokenizer FILE (or --model DIR; JSON strings on stdin)
int detokenize(int argc, char** argv);  // stride detokenize --tokenizer FILE (JSON id arrays on stdin)

}  // namespace stride::cli
