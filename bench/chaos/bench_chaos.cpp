// Chaos run (issue #15): a small job in processes mode while this driver sends SIGKILL to a random
// role — the launcher (scheduler), the buffer, the trainer or a rollout worker — at random moments, and
// starts the job again with resume=auto whenever it stops. After the last kill the job runs to its end,
// and the run's audit trails are checked: trained.jsonl (the trainer: per step, the groups trained
// and the versions that made them; bench/chaos/progress_audit.h) and acked.log (the buffer: every
// sample it acknowledged). Bad counts: steps out of order or missing, groups trained
// twice, trained from a discarded policy version (exact: by the weights each sample names), lost
// (acknowledged or due, never trained nor quarantined). Exit status 0 only when all are zero and every
// configured step is done.
//
//   build/bin/bench_chaos [--mode sync|async] [--kills 50] [--steps 60] [--seed 1] [--max-seconds 1500]
//                         [--gap-ms 300:2500] [--dir DIR] [--stride BIN]
//
// Bounded: at most --kills kills and --max-seconds of killing; then one last run to the end (at most
// 600 s). Last line: "chaos <mode>: ... bad counts all zero: yes|no".
//
// --recover (issue #18): nobody restarts the job from outside. One `stride run` with recovery.* on
// (buffer, trainer and rollout restarts inside the job, back-off 0.2 s up to 1 s) while this driver
// kills a random role (the buffer, the trainer or a rollout worker; not the launcher, which holds the
// dispatcher and is not restarted inside a job) with -9 after a random gap, as often as --kills. The
// job must then end on its own; the restarts per role (run_summary.json) are printed.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "progress_audit.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string mode = "sync";
    int kills = 50, steps = 60, max_seconds = 1500;
    uint64_t seed = 1;
    int gap_min_ms = 300, gap_max_ms = 2500;
    bool recover = false;  // --recover: restarts inside the job, no outside resume
    std::string dir, stride;
};

constexpr int kPromptsPerStep = 4, kWorkers = 2;

std::string self_dir() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return ".";
    std::string p(buf, n);
    return p.substr(0, p.rfind('/'));
}

Options parse(int argc, char** argv) {
    Options o;
    o.stride = self_dir() + "/stride";
    for (int i = 1; i < argc; i += 2) {
        if (std::string(argv[i]) == "--recover") {
            o.recover = true;
            --i;  // a flag without a value
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_chaos: %s needs a value\n", argv[i]);
            std::exit(2);
        }
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--mode")
            o.mode = v;
        else if (k == "--kills")
            o.kills = std::stoi(v);
        else if (k == "--steps")
            o.steps = std::stoi(v);
        else if (k == "--seed")
            o.seed = std::stoull(v);
        else if (k == "--max-seconds")
            o.max_seconds = std::stoi(v);
        else if (k == "--dir")
            o.dir = v;
        else if (k == "--stride")
            o.stride = v;
        else if (k == "--gap-ms") {
            o.gap_min_ms = std::stoi(v.substr(0, v.find(':')));
            o.gap_max_ms = std::stoi(v.substr(v.find(':') + 1));
        } else {
            std::fprintf(stderr, "bench_chaos: unknown flag %s\n", k.c_str());
            std::exit(2);
        }
    }
    if (o.dir.empty()) o.dir = (fs::temp_directory_path() / ("stride-chaos-" + o.mode)).string();
    return o;
}

// The job: a tiny model on generated arithmetic, checkpoints every 2 steps.
std::string write_config(const Options& o) {
    fs::remove_all(o.dir);
    fs::create_directories(o.dir);
    const std::string path = o.dir + "/chaos.yaml";
    std::ofstream out(path);
    out << "name: chaos\nseed: " << o.seed << "\nrun_dir: " << o.dir << "/runs\n"
        << "tokenizer: " << STRIDE_SOURCE_DIR << "/configs/tokenizers/arith/tokenizer.json\n"
        << "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: 64}\n"
        << "data: {train: 'gen:arith?n=2000&seed=2', eval_size: 0}\n"
        << "rollout: {n: 4, max_tokens: 5, workers: " << kWorkers << ", mode: " << o.mode << "}\n"
        << "reward: {fn: arith}\n"
        << "buffer: {max_staleness: 2}\n"
        << "trainer: {steps: " << o.steps << ", prompts_per_step: " << kPromptsPerStep
        << ", lr: 0.001, eval_every: 0, checkpoint_every: 2}\n"
        << "launcher: processes\nresume: auto\nlog: {level: warn}\n";
    if (o.recover)
        out << "recovery: {buffer_restarts: 1000, trainer_restarts: 1000, rollout_restarts: 1000, "
               "restart_backoff_s: 0.2, restart_backoff_max_s: 1}\n";
    return path;
}

// One `stride run` of the job, its stdout on a pipe (the role pids), its stderr in a file.
struct Run {
    pid_t pid = -1;
    int out = -1;
    std::string text;
    std::map<std::string, pid_t> roles;

    Run(const Options& o, const std::string& cfg, int index) {
        int fds[2];
        if (pipe(fds) != 0) return;
        const std::string err = o.dir + "/run-" + std::to_string(index) + ".err";
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], STDOUT_FILENO);
            const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (e >= 0) dup2(e, STDERR_FILENO);
            execl(o.stride.c_str(), o.stride.c_str(), "run", cfg.c_str(), (char*)nullptr);
            _exit(127);
        }
        close(fds[1]);
        out = fds[0];
        fcntl(out, F_SETFL, O_NONBLOCK);
    }
    ~Run() {
        if (out >= 0) close(out);
    }
    // Reads what the launcher printed so far; records "role NAME: pid N" lines.
    void poll_output() {
        char buf[512];
        ssize_t n;
        while ((n = read(out, buf, sizeof(buf))) > 0) text.append(buf, n);
        size_t at = 0;
        while ((at = text.find("role ", at)) != std::string::npos) {
            const size_t colon = text.find(": pid ", at), nl = text.find('\n', at);
            if (colon == std::string::npos || nl == std::string::npos) break;
            roles[text.substr(at + 5, colon - at - 5)] = std::atoi(text.c_str() + colon + 6);
            at = nl;
        }
    }
    // Waits up to `ms` for the launcher to end; returns its wait status or -1 if it still runs.
    int wait_for(int ms) {
        const auto until = Clock::now() + std::chrono::milliseconds(ms);
        for (;;) {
            poll_output();
            int status = 0;
            if (waitpid(pid, &status, WNOHANG) == pid) return status;
            if (Clock::now() >= until) return -1;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
};

int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The step of the newest complete checkpoint (what resume=auto picks), 0 if none.
int64_t newest_checkpoint(const std::string& run_path) {
    int64_t best = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(run_path + "/checkpoints", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("step_", 0) == 0 && name.find('.') == std::string::npos &&
            fs::exists(e.path() / "job_state.json"))
            best = std::max<int64_t>(best, std::atoll(name.c_str() + 5));
    }
    return best;
}

bool process_alive(pid_t pid) {
    return pid > 0 && kill(pid, 0) == 0;
}

struct Tally {
    int kills = 0, starts = 0, refused = 0, unexpected = 0;
    std::map<std::string, int> by_role;
};

size_t count_lines(const std::string& path) {
    std::ifstream in(path);
    size_t n = 0;
    for (std::string l; std::getline(in, l);) n += !l.empty();
    return n;
}

// Waits until this run trained a step (trained.jsonl grew) or ended; false if it ended.
bool wait_for_training(Run& run, const std::string& trained_log, int* status) {
    const size_t before = count_lines(trained_log);
    const auto until = Clock::now() + std::chrono::seconds(300);
    while (Clock::now() < until) {
        if ((*status = run.wait_for(50)) >= 0) return false;
        if (count_lines(trained_log) > before) return true;
    }
    return true;
}

// Kills a random role of `run` (the launcher counts as "scheduler") after a random gap: one kill in
// five counts the gap from the start (start-up, resume), the others from the run's first trained step
// (training, commits, checkpoints). Returns false if the run ended by itself first (status in *status).
bool kill_one(Run& run, const Options& o, const std::string& trained_log, std::mt19937_64& rng, Tally& t,
              int* status) {
    std::uniform_int_distribution<int> gap(o.gap_min_ms, o.gap_max_ms);
    if (rng() % 5 != 0 && !wait_for_training(run, trained_log, status)) return false;
    *status = run.wait_for(gap(rng));
    if (*status >= 0) return false;
    std::vector<std::pair<std::string, pid_t>> victims = {{"scheduler", run.pid}};
    for (const auto& [name, pid] : run.roles)
        if (process_alive(pid)) victims.emplace_back(name.substr(0, name.find('-')), pid);
    const auto& [name, pid] = victims[std::uniform_int_distribution<size_t>(0, victims.size() - 1)(rng)];
    kill(pid, SIGKILL);
    ++t.kills;
    ++t.by_role[name];
    *status = run.wait_for(600 * 1000);  // the launcher stops the job when a role dies
    if (*status < 0) {                   // a job that does not stop after a kill is a failure of its own
        std::printf("chaos: the job did not stop within 600 s after %s was killed\n", name.c_str());
        ++t.unexpected;
        for (const auto& [role, role_pid] : run.roles) kill(role_pid, SIGKILL);
        kill(run.pid, SIGKILL);
        *status = run.wait_for(10 * 1000);
    }
    return true;
}

// Whether this run's stderr says it was refused because the previous run's roles still run.
bool refused_by_lock(const Options& o, int index) {
    std::ifstream in(o.dir + "/run-" + std::to_string(index) + ".err");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.find("job.lock") != std::string::npos;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) lines.push_back(l);
    return lines;
}

// acked.log: "group_id sample_id" per acknowledged sample.
std::set<std::string> acked_groups(const std::string& path, int64_t* samples) {
    std::set<std::string> groups;
    std::set<std::string> ids;
    for (const std::string& l : read_lines(path)) {
        const size_t sp = l.find(' ');
        groups.insert(l.substr(0, sp));
        ids.insert(l);
    }
    *samples = static_cast<int64_t>(ids.size());
    return groups;
}

// --recover: one run; kills only, the job restarts its roles itself. Returns the run's wait status, or
// -1 when it did not end within 600 s of the last kill.
int run_with_recovery(const Options& o, const std::string& cfg, const std::string& run_path, Tally& t,
                      std::vector<stride::chaos::Restart>* restarts) {
    const std::string trained_log = run_path + "/trained.jsonl";
    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<int> gap(o.gap_min_ms, o.gap_max_ms);
    Run run(o, cfg, 0);
    ++t.starts;
    const auto t0 = Clock::now();
    int status = -1;
    while (t.kills < o.kills && Clock::now() - t0 < std::chrono::seconds(o.max_seconds)) {
        // Mostly after a step was trained (training, commits, checkpoints), sometimes right away (a role
        // that is starting or being restarted).
        if (rng() % 5 != 0 && !wait_for_training(run, trained_log, &status)) return status;
        if ((status = run.wait_for(gap(rng))) >= 0) return status;
        std::vector<std::pair<std::string, pid_t>> victims;
        for (const auto& [name, pid] : run.roles)
            if (process_alive(pid)) victims.emplace_back(name.substr(0, name.find('-')), pid);
        if (victims.empty()) continue;
        const auto& [name, pid] = victims[std::uniform_int_distribution<size_t>(0, victims.size() - 1)(rng)];
        kill(pid, SIGKILL);
        ++t.kills;
        ++t.by_role[name];
        // A trainer restart resumes from the newest checkpoint: the audit's notion of a restart (the
        // launcher restarts it within a second; its output names the new pid).
        if (name == "trainer") restarts->push_back({unix_ms_now(), newest_checkpoint(run_path)});
    }
    status = run.wait_for(600 * 1000);
    if (status < 0) {
        std::printf("chaos: the job did not end within 600 s after the last kill\n");
        for (const auto& [role, role_pid] : run.roles) kill(role_pid, SIGKILL);
        kill(run.pid, SIGKILL);
        run.wait_for(10 * 1000);
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const std::string cfg = write_config(o);
    const std::string run_path = o.dir + "/runs/chaos";
    std::mt19937_64 rng(o.seed);
    Tally t;
    const auto t0 = Clock::now();
    bool done = false;
    int refused_in_a_row = 0;
    std::vector<stride::chaos::Restart> restarts;  // every start that ran, but the first
    if (o.recover) {
        const int status = run_with_recovery(o, cfg, run_path, t, &restarts);
        if (!(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            ++t.unexpected;
            std::printf("chaos: the job failed (status %d), see %s/run-0.err\n", status, o.dir.c_str());
        }
        done = true;
    }
    for (int index = 0; !done; ++index) {
        const stride::chaos::Restart restart{unix_ms_now(), newest_checkpoint(run_path)};
        Run run(o, cfg, index);
        ++t.starts;
        if (index > 0) restarts.push_back(restart);  // a refused start is taken out again below
        if (index > 0 && !refused_by_lock(o, index - 1)) refused_in_a_row = 0;
        const bool killing = t.kills < o.kills && Clock::now() - t0 < std::chrono::seconds(o.max_seconds);
        int status = -1;
        if (!killing || !kill_one(run, o, run_path + "/trained.jsonl", rng, t, &status)) {
            if (status < 0) status = run.wait_for(600 * 1000);
            if (status < 0) {  // hung: a bad count of its own
                kill(run.pid, SIGKILL);
                std::printf("chaos: the final run did not end within 600 s\n");
                ++t.unexpected;
                break;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                done = true;
            } else if (refused_by_lock(o, index) && ++refused_in_a_row < 300) {
                if (!restarts.empty()) restarts.pop_back();
                ++t.refused;  // the previous run's roles are still finishing: try again shortly
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                continue;
            } else {
                ++t.unexpected;
                std::printf("chaos: run %d failed on its own (status %d), see %s/run-%d.err\n", index, status,
                            o.dir.c_str(), index);
                if (t.unexpected > 5) break;
            }
        }
    }
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

    const stride::chaos::ProgressAudit a =
        stride::chaos::audit_trained_log(run_path + "/trained.jsonl", restarts);
    int64_t acked_samples = 0;
    std::set<std::string> due = acked_groups(run_path + "/acked.log", &acked_samples);
    for (int p = 0; p < o.steps * kPromptsPerStep; ++p) due.insert("p" + std::to_string(p));
    int64_t lost = 0;
    for (const std::string& g : due)
        if (!a.group_ids.count(g) && !a.quarantined_ids.count(g)) {
            if (lost < 10) std::printf("lost: group %s never trained\n", g.c_str());
            ++lost;
        }
    const size_t metrics_lines = read_lines(run_path + "/metrics.jsonl").size();
    for (const std::string& p : a.problems) std::printf("problem: %s\n", p.c_str());
    std::printf("chaos %s: %d kills (", o.mode.c_str(), t.kills);
    for (const auto& [role, n] : t.by_role) std::printf("%s %d, ", role.c_str(), n);
    std::printf(
        "), %d starts (%d refused while the previous run's roles finished), %d failed on their own, %.0f s\n",
        t.starts, t.refused, t.unexpected, wall);
    std::printf(
        "samples acknowledged %lld (%zu groups); trained %lld groups in %lld steps; quarantined %lld\n",
        (long long)acked_samples, due.size(), (long long)a.groups, (long long)a.steps,
        (long long)a.quarantined);
    std::printf("steps completed %lld of %d (metrics.jsonl %zu lines)\n", (long long)a.steps, o.steps,
                metrics_lines);
    if (o.recover) {  // what the job did about the kills by itself (run_summary.json)
        std::ifstream in(run_path + "/run_summary.json");
        const auto summary = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        std::printf("restarts inside the job: %s\n", summary.is_object() && summary.contains("restarts")
                                                         ? summary["restarts"].dump().c_str()
                                                         : "(no run_summary.json)");
    }
    // judged_by_time: a group without Sample.weights_used could hide a discarded version's token.
    const bool ok = a.trained_twice == 0 && a.from_discarded == 0 && a.judged_by_time == 0 && lost == 0 &&
                    a.steps_out_of_order == 0 && a.steps == o.steps &&
                    metrics_lines == static_cast<size_t>(o.steps) && t.unexpected == 0;
    std::printf("from a discarded version: judged by the weights used for %lld groups, by time for %lld\n",
                (long long)a.judged_by_weights, (long long)a.judged_by_time);
    std::printf(
        "chaos %s: trained twice %lld, trained from a discarded version %lld, lost %lld, steps out of order "
        "%lld, failed runs %d; bad counts all zero: %s\n",
        o.mode.c_str(), (long long)a.trained_twice, (long long)a.from_discarded, (long long)lost,
        (long long)a.steps_out_of_order, t.unexpected, ok ? "yes" : "no");
    return ok ? 0 : 1;
}
