// `stride`: the one binary. Dispatches to subcommands; each lives with the library it belongs to.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "common/base/parallel.h"
#include "model/cli/commands.h"
#ifdef STRIDE_WITH_ROLES
#include "scheduler/cli_commands.h"
#endif

namespace {

struct Command {
    const char* name;
    int (*fn)(int, char**);
    const char* help;
};

const Command kCommands[] = {
    {"init-model", stride::cli::init_model, "write a seeded random HF checkpoint (config.json + model.safetensors)"},
    {"logprobs", stride::cli::logprobs, "per-token log-probs and entropies of JSON token lines on stdin"},
    {"generate", stride::cli::generate, "sample a completion for a prompt"},
    {"tokenize", stride::cli::tokenize, "JSON strings on stdin -> id arrays"},
    {"detokenize", stride::cli::detokenize, "JSON id arrays on stdin -> strings"},
#ifdef STRIDE_WITH_ROLES
    STRIDE_ROLE_COMMANDS
#endif
};

void print_usage() {
    std::fprintf(stderr, "usage: stride <command> [args]\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(stderr, "  %-12s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
    stride::ensure_fast_blas_kernels(argv);
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        print_usage();
        return argc < 2 ? 2 : 0;
    }
    stride::init_threads();
    for (const auto& c : kCommands) {
        if (std::strcmp(argv[1], c.name) == 0) {
            try {
                return c.fn(argc - 2, argv + 2);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "stride %s: %s\n", c.name, e.what());
                return 1;
            }
        }
    }
    std::fprintf(stderr, "stride: unknown command '%s'\n", argv[1]);
    print_usage();
    return 2;
}
