// `stride data gen`: writes a synthetic JSONL dataset (see job/data_gen.h for the formats).
#include <cstdio>
#include <string>

#include "common/base/error.h"
#include "model/cli/args.h"
#include "scheduler/cli_commands.h"
#include "job/data_gen.h"

namespace stride::cli {

namespace {

const char* kDataUsage =
    "usage: stride data gen --task arith|collatz|countdown --n N [--seed S] [--digits D] [--op add|mul]\n"
    "                       [--max-len K] [--out FILE]\n"
    "       stride data gen --spec 'gen:arith?n=N&seed=S' [--out FILE]\n"
    "  arith:   prompt \"321+540=\" (operands zero-padded to D digits, lowest digit first), answer \"861\"\n"
    "  collatz: prompt \"Print the Collatz trajectory of 6.\", answer \"6 3 10 5 16 8 4 2 1\"\n"
    "  countdown: prompt \"937-935=\", answer \"937 936 935\"; lengths up to K numbers, P(k) ~ k^-1.5\n"
    "  --out -  (the default) writes to stdout\n";

int data_gen(int argc, char** argv) {
    Args args(argc, argv, {"task", "n", "seed", "digits", "op", "max-len", "out", "spec"}, {"help"});
    if (args.has("help")) {
        std::fputs(kDataUsage, stdout);
        return 0;
    }
    GenSpec spec;
    if (args.has("spec")) {
        STRIDE_CHECK(!args.has("task") && !args.has("n") && !args.has("seed") && !args.has("digits") &&
                         !args.has("op") && !args.has("max-len"),
                     "--spec already says task, n, seed, digits and op");
        spec = parse_gen_spec(args.get("spec"));
    } else {
        spec.task = args.get("task");
        spec.n = static_cast<int64_t>(args.get_u64("n", 0));
        STRIDE_CHECK(args.has("n"), "missing --n");
        spec.seed = args.get_u64("seed", spec.seed);
        spec.digits = args.get_int("digits", spec.digits);
        spec.op = args.get("op", spec.op);
        spec.max_len = args.get_int("max-len", spec.max_len);
        STRIDE_CHECK(spec.task == "countdown" || !args.has("max-len"),
                     "--max-len applies to --task countdown only");
        STRIDE_CHECK(spec.task == "arith" || !args.has("op"), "--op applies to --task arith only");
        check_gen_spec(spec);
    }
    std::string out = args.get("out", "-");
    auto examples = generate_examples(spec);
    write_jsonl_dataset(examples, out);
    if (out != "-")
        std::fprintf(stderr, "wrote %zu %s examples to %s\n", examples.size(), spec.task.c_str(),
                     out.c_str());
    return 0;
}

}  // namespace

int data(int argc, char** argv) {
    if (argc < 1 || std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h") {
        std::fputs(kDataUsage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    std::string sub = argv[0];
    if (sub == "gen") return data_gen(argc - 1, argv + 1);
    std::fprintf(stderr, "stride data: unknown subcommand '%s'\n%s", sub.c_str(), kDataUsage);
    return 2;
}

}  // namespace stride::cli
