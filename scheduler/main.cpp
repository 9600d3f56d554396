// `stride`: the one binary. Dispatches to subcommands; each lives with the library it belongs to and
// parses its arguments with model/cli/parser.h (CLI11): `stride --help`, `stride help CMD` and
// `stride CMD --help` print usage and every flag; `stride --version` the build.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "common/base/parallel.h"
#include "model/cli/commands.h"
#include "model/cli/parser.h"
#include "stride_git_version.h"
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
#ifdef STRIDE_WITH_ROLES
    STRIDE_ROLE_COMMANDS
#endif
    {"init-model", stride::cli::init_model,
     "write a seeded random HF checkpoint (config.json + model.safetensors)"},
    {"logprobs", stride::cli::logprobs, "per-token log-probs and entropies of JSON token lines on stdin"},
#ifdef STRIDE_WITH_ROLES
    {"generate", stride::cli::generate_with_model_template, "sample a completion for a prompt"},
#else
    {"generate", stride::cli::generate, "sample a completion for a prompt"},
#endif
    {"tokenize", stride::cli::tokenize, "JSON strings on stdin -> id arrays"},
    {"detokenize", stride::cli::detokenize, "JSON id arrays on stdin -> strings"},
};

void print_usage(FILE* to) {
    std::fprintf(to,
                 "usage: stride <command> [args]      stride <command> --help    stride help <command>\n"
                 "       stride --version\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(to, "  %-12s %s\n", c.name, c.help);
}

const Command* find(const char* name) {
    for (const auto& c : kCommands)
        if (std::strcmp(name, c.name) == 0) return &c;
    return nullptr;
}

// Exit codes (README, "Exit codes"): 0 done, 1 a runtime error, 2 a bad command line (the CLI
// convention: a script can tell "fix the call" from "the job failed"), 130 stopped by SIGINT/SIGTERM.
int call(const Command& c, int argc, char** argv) {
    try {
        return c.fn(argc, argv);
    } catch (const stride::cli::UsageError& e) {
        std::fprintf(stderr, "stride %s: %s\n", c.name, e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stride %s: %s\n", c.name, e.what());
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    stride::ensure_fast_blas_kernels(argv);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const std::string first = argv[1];
    if (first == "--help" || first == "-h" || (first == "help" && argc == 2)) {
        print_usage(stdout);
        return 0;
    }
    if (first == "--version" || first == "version") {
        std::printf("stride %s (%s, %s)\n", STRIDE_GIT_VERSION, STRIDE_BUILD_TYPE, STRIDE_BUILD_FEATURES);
        return 0;
    }
    if (first == "help") {  // stride help CMD [SUB]: CMD [SUB] --help
        const Command* c = find(argv[2]);
        if (!c) {
            std::fprintf(stderr, "stride: unknown command '%s'\n", argv[2]);
            print_usage(stderr);
            return 2;
        }
        std::vector<char*> args(argv + 3, argv + argc);
        static char help_flag[] = "--help";
        args.push_back(help_flag);
        return call(*c, static_cast<int>(args.size()), args.data());
    }
    const Command* c = find(argv[1]);
    if (!c) {
        std::fprintf(stderr, "stride: unknown command '%s'\n", argv[1]);
        print_usage(stderr);
        return 2;
    }
    stride::init_threads();
    return call(*c, argc - 2, argv + 2);
}
