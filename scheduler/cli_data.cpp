// `stride data gen`: writes a synthetic JSONL dataset (see job/data_gen.h for the formats).
// `stride data head`: prints a dataset file's first rows as JSON lines, as the job reads them.
#include <cstdio>
#include <iostream>
#include <string>

#include "common/base/error.h"
#include "job/data_gen.h"
#include "job/dataset.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"

namespace stride::cli {

namespace {

const char* kDataUsage =
    "usage: stride data gen --task arith|collatz|countdown --n N [--seed S] [--digits D] [--op add|mul]\n"
    "                       [--max-len K] [--out FILE]\n"
    "       stride data gen --spec 'gen:arith?n=N&seed=S' [--out FILE]\n"
    "  see stride data gen --help\n";

const char* kGenFormats =
    "  arith:   prompt \"321+540=\" (operands zero-padded to D digits, lowest digit first), answer \"861\"\n"
    "  collatz: prompt \"Print the Collatz trajectory of 6.\", answer \"6 3 10 5 16 8 4 2 1\"\n"
    "  countdown: prompt \"937-935=\", answer \"937 936 935\"; lengths up to K numbers, P(k) ~ k^-1.5\n"
    "  --out -  (the default) writes to stdout\n";

int data_gen(int argc, char** argv) {
    GenSpec spec;
    std::string task, spec_text, out = "-";
    Parser p("stride data gen --task arith|collatz|countdown --n N [options] | --spec 'gen:TASK?n=N&seed=S'",
             "Writes a synthetic verifiable JSONL dataset (see job/data_gen.h for the formats).");
    p.flag("task", task, "arith, collatz or countdown")
        .flag("n", spec.n, "examples")
        .flag("seed", spec.seed, "seed")
        .flag("digits", spec.digits, "arith: operand digits; collatz: start values below 10^digits")
        .flag("op", spec.op, "arith: add or mul")
        .flag("max-len", spec.max_len, "countdown: the longest countdown")
        .flag("spec", spec_text, "a generator spec gen:TASK?n=N&seed=S instead of the flags above")
        .flag("out", out, "output file (-: stdout)")
        .footer(kGenFormats);
    if (!p.parse(argc, argv)) return 0;
    if (p.given("spec")) {
        STRIDE_CHECK(!p.given("task") && !p.given("n") && !p.given("seed") && !p.given("digits") &&
                         !p.given("op") && !p.given("max-len"),
                     "--spec already says task, n, seed, digits and op");
        spec = parse_gen_spec(spec_text);
    } else {
        std::string missing = std::string(p.given("task") ? "" : "--task") +
                              (p.given("task") || p.given("n") ? "" : ", ") + (p.given("n") ? "" : "--n");
        if (!missing.empty()) throw UsageError("missing " + missing + "\nusage: " + p.usage());
        spec.task = task;
        STRIDE_CHECK(spec.task == "countdown" || !p.given("max-len"),
                     "--max-len applies to --task countdown only");
        STRIDE_CHECK(spec.task == "arith" || !p.given("op"), "--op applies to --task arith only");
        check_gen_spec(spec);
    }
    auto examples = generate_examples(spec);
    write_jsonl_dataset(examples, out);
    if (out != "-")
        std::fprintf(stderr, "wrote %zu %s examples to %s\n", examples.size(), spec.task.c_str(),
                     out.c_str());
    return 0;
}

int data_head(int argc, char** argv) {
    std::string path;
    int64_t n = 10;
    Parser p(
        "stride data head FILE [--n N]",
        "Prints the first rows of a dataset file (.parquet or JSONL) as JSON lines, as the job reads them.");
    p.positional("FILE", path, "a .parquet or JSONL dataset file").flag("n", n, "rows to print (-1: all)");
    if (!p.parse(argc, argv)) return 0;
    STRIDE_CHECK(n >= -1, "--n: must be >= -1");
    for_each_dataset_row(path, n, [](const nlohmann::ordered_json& row, const std::string&) {
        std::cout << row.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
        return static_cast<bool>(std::cout);
    });
    std::cout.flush();
    STRIDE_CHECK(std::cout, "stride data head: write failed");
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
    if (sub == "head") return data_head(argc - 1, argv + 1);
    std::fprintf(stderr, "stride data: unknown subcommand '%s'\n%s", sub.c_str(), kDataUsage);
    return 2;
}

}  // namespace stride::cli
