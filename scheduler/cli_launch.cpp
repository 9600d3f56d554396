// `stride launch slurm CONFIG [key=value ...]`: submits a job to Slurm with ops/slurm/stride.sbatch,
// one srun step per role instance (scheduler, buffer, trainer, each rollout worker), which find each
// other through the scheduler's registry (scheduler/cluster_role.h). The config is loaded and checked
// here first, so a bad key fails before anything is queued.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"
#include "scheduler/job_config.h"

namespace stride::cli {

namespace fs = std::filesystem;

namespace {

struct SlurmOptions {
    int nodes = 1;
    bool overcommit = false, wait = false, dry_run = false;
    int port = 0;
    std::string script, output, partition, time_limit;
};

std::string self_path() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    STRIDE_CHECK(n > 0, "launch: cannot find the stride executable (/proc/self/exe)");
    return std::string(buf, static_cast<size_t>(n));
}

// --script, else $STRIDE_SBATCH, else ops/slurm/stride.sbatch of the source tree the binary was built
// in (build/bin/stride -> ../../ops/slurm).
std::string sbatch_script(const std::string& flag) {
    if (!flag.empty()) return fs::absolute(flag).string();
    if (const char* env = std::getenv("STRIDE_SBATCH"); env && *env) return env;
    const fs::path p = fs::path(self_path()).parent_path() / "../../ops/slurm/stride.sbatch";
    STRIDE_CHECK(fs::exists(p), "launch: no stride.sbatch at " + p.lexically_normal().string() +
                                    "; give --script FILE or set STRIDE_SBATCH");
    return p.lexically_normal().string();
}

std::vector<std::string> sbatch_command(const JobConfig& cfg, const std::string& config_path,
                                        const SlurmOptions& o, const std::vector<std::string>& overrides) {
    std::vector<std::string> cmd = {"sbatch", "--job-name=stride-" + cfg.name,
                                    "--ntasks=" + std::to_string(3 + cfg.rollout.workers),
                                    "--nodes=" + std::to_string(o.nodes)};
    if (o.overcommit) cmd.push_back("--overcommit");
    if (o.wait) cmd.push_back("--wait");
    if (!o.output.empty()) cmd.push_back("--output=" + o.output);
    if (!o.partition.empty()) cmd.push_back("--partition=" + o.partition);
    if (!o.time_limit.empty()) cmd.push_back("--time=" + o.time_limit);
    cmd.push_back(sbatch_script(o.script));
    cmd.push_back(fs::absolute(config_path).string());
    cmd.push_back(std::to_string(cfg.rollout.workers));
    cmd.insert(cmd.end(), overrides.begin(), overrides.end());
    return cmd;
}

int launch_slurm(const std::string& config_path, const SlurmOptions& o,
                 const std::vector<std::string>& overrides) {
    const JobConfig cfg = load_job_config(config_path, overrides);
    STRIDE_CHECK(o.nodes >= 1, "launch: --nodes must be >= 1");
    STRIDE_CHECK(o.port >= 0 && o.port <= 65535, "launch: --port must be in 0..65535");
    const std::vector<std::string> cmd = sbatch_command(cfg, config_path, o, overrides);
    // What the batch script reads (sbatch passes the environment on).
    setenv("STRIDE_BIN", self_path().c_str(), 1);
    if (o.port > 0) setenv("STRIDE_SCHEDULER_PORT", std::to_string(o.port).c_str(), 1);
    if (o.overcommit) setenv("STRIDE_SRUN_ARGS", "--overcommit --overlap", 1);
    std::string line;
    for (const auto& a : cmd) line += (line.empty() ? "" : " ") + a;
    std::printf("launch: %s\n", line.c_str());
    std::fflush(stdout);
    if (o.dry_run) return 0;
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp("sbatch", argv.data());
    throw Error("launch: cannot run sbatch (is Slurm installed and SLURM_CONF set?)");
}

}  // namespace

int launch(int argc, char** argv) {
    std::string engine, config_path;
    std::vector<std::string> overrides;
    SlurmOptions o;
    Parser p("stride launch slurm CONFIG [options] [key=value ...]",
             "Submits the job to Slurm (ops/slurm/stride.sbatch): one srun step per role instance; the\n"
             "roles find each other through the scheduler on the allocation's first node.");
    p.positional("ENGINE", engine, "slurm")
        .positional("CONFIG", config_path, "job config (YAML), read by every role from this path")
        .flag("nodes", o.nodes, "nodes of the allocation (rollout workers spread over them)")
        .toggle("overcommit", o.overcommit, "more tasks than CPUs (sbatch and srun --overcommit)")
        .toggle("wait", o.wait, "wait for the job to end; exit with its code (sbatch --wait)")
        .flag("port", o.port, "port of the scheduler's registry (0: 20000 + job id mod 10000)")
        .flag("output", o.output, "the batch script's output file (sbatch --output)")
        .flag("partition", o.partition, "Slurm partition (default: the cluster's)")
        .flag("time", o.time_limit, "time limit (sbatch --time)")
        .flag("script", o.script, "batch script (default: ops/slurm/stride.sbatch beside the build)")
        .toggle("dry-run", o.dry_run, "print the sbatch command line, submit nothing")
        .positionals("OVERRIDES", overrides, "key=value ...");
    if (!p.parse(argc, argv)) return 0;
    if (engine != "slurm") throw UsageError("launch: unknown engine '" + engine + "' (slurm)");
    for (const std::string& a : overrides)
        if (a.find('=') == std::string::npos) throw UsageError("launch: unexpected argument '" + a + "'");
    return launch_slurm(config_path, o, overrides);
}

}  // namespace stride::cli
