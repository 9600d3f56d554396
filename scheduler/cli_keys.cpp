// `stride keys gen DIR`: a CURVE key set for a job whose roles run on several machines (issue #20;
// common/curve_keys.h). Copy DIR to every machine of the job, owner-only, and set network.keys_dir.
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/base/error.h"
#include "common/curve_keys.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"

namespace stride::cli {

namespace {

const char* kKeysUsage =
    "usage: stride keys gen DIR [--force]\n"
    "  see stride keys gen --help\n";

int keys_gen(int argc, char** argv) {
    std::string dir;
    bool force = false;
    Parser p("stride keys gen DIR [--force]",
             "Writes a fresh CURVE key set to DIR (0700; files 0600): server.key, server.key_secret, "
             "client.key, client.key_secret and clients. Every role of a job started with --scheduler "
             "reads it from network.keys_dir and admits only peers holding it.");
    p.positional("DIR", dir, "directory to write (created)")
        .toggle("force", force, "replace a key set already in DIR")
        .footer("  keys are never printed; a job on one machine (stride run) makes its own at every start\n");
    if (!p.parse(argc, argv)) return 0;
    STRIDE_CHECK(
        force || !std::filesystem::exists(dir + "/server.key_secret"),
        dir + " already holds a key set; --force replaces it (roles holding the old one are then refused)");
    write_curve_keys(dir, generate_curve_keys());
    std::printf("wrote a CURVE key set to %s; set network.keys_dir: %s\n", dir.c_str(), dir.c_str());
    return 0;
}

}  // namespace

int keys(int argc, char** argv) {
    if (argc < 1 || std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h") {
        std::fputs(kKeysUsage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const std::string sub = argv[0];
    if (sub == "gen") return keys_gen(argc - 1, argv + 1);
    std::fprintf(stderr, "stride keys: unknown subcommand '%s'\n%s", sub.c_str(), kKeysUsage);
    return 2;
}

}  // namespace stride::cli
