// `stride reward score`: a reward (built-in or plug-in) on JSON lines, to try a reward before a run.
// `stride reward worker`: the process a plug-in runs in (started by reward/plugin/plugin_pool.cpp).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/base/error.h"
#include "model/cli/parser.h"
#include "reward/plugin/plugin_pool.h"
#include "reward/registry.h"
#include "scheduler/cli_commands.h"

namespace stride::cli {

namespace {

using nlohmann::json;

const char* kRewardUsage =
    "usage: stride reward score --fn NAME|plugin:path/lib.so[:prefix]|python:file.py:function [--timeout-s "
    "T] [--workers N]\n"
    "                           [--memory-mb M] [--correct C] [--incorrect I] < in.jsonl > out.jsonl\n"
    "  see stride reward score --help\n";

const char* kRewardFormat =
    "Scores JSON lines with a built-in, plug-in or python reward, to try a reward before a job:\n"
    "  reads {\"prompt\": ..., \"response\": ..., \"label\": ...} per line (\"answer\" works for label;\n"
    "  optional \"data_source\" and \"extra_info\" {...} reach plug-ins and verl functions)\n"
    "  writes {\"score\": ..., \"status\": ok|error|timeout|unparseable, \"detail\": ..., \"correct\": "
    "...}\n";

std::string text_field(const json& j, const char* key, const char* alt = nullptr) {
    const json* v = j.contains(key) ? &j[key] : alt && j.contains(alt) ? &j[alt] : nullptr;
    if (!v || v->is_null()) return "";
    return v->is_string() ? v->get<std::string>() : v->dump();  // numeric labels: 42 -> "42"
}

int reward_score(int argc, char** argv) {
    RewardSpec spec;
    spec.timeout_s = 10.0;
    spec.plugin_workers = 1;  // lines are scored in order, one at a time
    spec.plugin_memory_mb = 2048;
    Parser p("stride reward score --fn SPEC [options] < in.jsonl > out.jsonl", kRewardFormat);
    p.flag("fn", spec.fn, "NAME | plugin:path/lib.so[:prefix] | python:file.py:function", true)
        .flag("timeout-s", spec.timeout_s, "seconds per score before it counts as a timeout")
        .flag("workers", spec.plugin_workers, "plug-in worker processes")
        .flag("memory-mb", spec.plugin_memory_mb, "memory limit of a plug-in worker (MiB)")
        .flag("correct", spec.correct, "score of a correct answer")
        .flag("incorrect", spec.incorrect, "score of an incorrect answer");
    if (!p.parse(argc, argv)) return 0;
    auto fn = make_reward(spec);  // a bad name or plug-in fails here, before any input is read
    std::string line;
    int64_t n = 0;
    while (std::getline(std::cin, line)) {
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json out;
        try {
            json in = json::parse(line);
            RewardInput ri;
            ri.prompt = text_field(in, "prompt");
            ri.response = text_field(in, "response");
            ri.answer = text_field(in, "label", "answer");
            // A label that is not a string reaches Python rewards with its type (a list, a number).
            const json* label = in.contains("label")    ? &in["label"]
                                : in.contains("answer") ? &in["answer"]
                                                        : nullptr;
            if (label && !label->is_string() && !label->is_null()) ri.answer_json = label->dump();
            ri.data_source = text_field(in, "data_source");  // verl's per-row keys, for its functions
            if (in.contains("extra_info") && in["extra_info"].is_object())
                ri.extra_info_json = in["extra_info"].dump();
            RewardResult r = fn->score(ri);
            out = {{"score", r.score},
                   {"status", reward_status_name(r.status)},
                   {"detail", r.detail},
                   {"correct", r.correct}};
        } catch (const std::exception& e) {
            // One bad line must not lose the others' scores: report it in place and go on.
            out = {{"score", spec.incorrect},
                   {"status", "error"},
                   {"detail", "line " + std::to_string(n) + ": " + e.what()},
                   {"correct", false}};
        }
        std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n' << std::flush;
    }
    return 0;
}

int reward_worker(int argc, char** argv) {
    PluginSpec spec;
    std::string connect;
    int64_t memory_mb = 0;
    std::string keys_dir;
    Parser p(
        "stride reward worker --connect ENDPOINT --plugin FILE [--prefix P] [--memory-mb M] [--keys-dir DIR]",
        "The process a reward plug-in runs in (started by reward/plugin/plugin_pool.cpp, not by hand).");
    p.flag("connect", connect, "endpoint of the plug-in pool", true)
        .flag("plugin", spec.path, "plug-in shared library", true)
        .flag("prefix", spec.prefix, "symbol prefix")
        .flag("memory-mb", memory_mb, "memory limit (MiB, 0: none)")
        .flag("keys-dir", keys_dir, "the job's CURVE key set, when the pool serves CURVE");
    if (!p.parse(argc, argv)) return 0;
    return run_reward_worker(connect, spec, memory_mb, keys_dir);
}

}  // namespace

int reward(int argc, char** argv) {
    if (argc < 1 || std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h") {
        std::fputs(kRewardUsage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    std::string sub = argv[0];
    if (sub == "score") return reward_score(argc - 1, argv + 1);
    if (sub == "worker") return reward_worker(argc - 1, argv + 1);
    std::fprintf(stderr, "stride reward: unknown subcommand '%s'\n%s", sub.c_str(), kRewardUsage);
    return 2;
}

}  // namespace stride::cli
