// The code_exec RewardFn: one sandboxed harness run per sample, judged here (reward/code_exec/code_exec.h).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "common/base/error.h"
#include "reward/code_exec/code_exec.h"
#include "reward/plugin/python_reward.h"

namespace stride {

namespace {

using nlohmann::json;

constexpr size_t kMaxOut = 16u << 20;  // per test: stdout, or a return value's JSON
constexpr int kShownFailures = 3;

// A string for a detail line: JSON-quoted (newlines visible) and cut to n characters.
std::string quoted(const std::string& s, size_t n = 60) {
    std::string q =
        json(s.size() > n ? s.substr(0, n) : s).dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > n ? q + "..." : q;
}

// The last non-empty line of stderr: a traceback's exception line.
std::string last_line(const std::string& err) {
    size_t end = err.find_last_not_of(" \t\r\n");
    if (end == std::string::npos) return "";
    size_t start = err.rfind('\n', end);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = err.substr(start, end + 1 - start);
    return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// A field of a harness line, null when absent (a test that could not start has no output fields).
const json& field(const json& line, const char* key) {
    static const json null;
    auto it = line.find(key);
    return it == line.end() ? null : *it;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

struct Verdict {
    bool pass = false;
    std::string why;    // for a failure
    std::string limit;  // the sandbox stopped it: "memory", "syscall", ...
};

class CodeExecReward : public RewardFn {
   public:
    explicit CodeExecReward(CodeExecOptions opt) : opt_(std::move(opt)) {
        if (opt_.python.empty()) opt_.python = python_interpreter();
        if (opt_.workers <= 0)
            opt_.workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
        limits_.wall_s = opt_.timeout_s;
        limits_.memory_mb = opt_.memory_mb;
    }

    // Fails loudly now rather than scoring every sample 0 later.
    void check_runs() const {
        STRIDE_CHECK(access(opt_.python.c_str(), X_OK) == 0, "reward.fn: code_exec: interpreter '" +
                                                                 opt_.python + "': " + std::strerror(errno) +
                                                                 " (set STRIDE_PYTHON)");
        RewardInput probe;
        probe.response = "print(int(input()) + 1)";
        probe.answer = R"({"tests": [{"input": "1\n", "output": "2\n"}]})";
        RewardResult r = score(probe);
        STRIDE_CHECK(r.correct, "reward.fn: code_exec: Python '" + opt_.python +
                                    "' does not run in the sandbox (" + r.detail +
                                    "); the sandbox shows only /usr, /bin and /lib*, so the interpreter "
                                    "must live there");
    }

    RewardResult score(const RewardInput& in) const override {
        std::optional<std::string> program = extract_program(in.response);
        if (!program) return {0.0, RewardStatus::unparseable, "code_exec: no program in the response", false};
        CodeTests tests;
        try {
            tests = parse_code_tests(in.answer);
        } catch (const Error& e) {
            return {0.0, RewardStatus::error, std::string("code_exec: ") + e.what(), false};
        }
        SandboxResult run = run_sandboxed(job(*program, tests), limits(tests), opt_.isolation);
        return judge(tests, run);
    }

    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override {
        // Each sample is one sandbox: run several at once, the time goes into Python's start and the tests.
        std::vector<RewardResult> out(in.size());
        std::atomic<size_t> next{0};
        auto work = [&] {
            for (size_t i; (i = next.fetch_add(1)) < in.size();) {
                try {
                    out[i] = score(in[i]);
                } catch (const std::exception& e) {  // a helper thread must not throw
                    out[i] = {0.0, RewardStatus::error, std::string("code_exec: ") + e.what(), false};
                }
            }
        };
        size_t helpers = std::min(in.size(), static_cast<size_t>(opt_.workers));
        std::vector<std::thread> threads;
        for (size_t t = 1; t < helpers; ++t) threads.emplace_back(work);
        work();
        for (auto& t : threads) t.join();
        return out;
    }

    std::string name() const override { return "code_exec"; }

   private:
    static size_t max_out(const CodeTests& t) {
        size_t longest = 0;
        for (const json& o : t.outputs)
            longest =
                std::max(longest, o.is_string() ? o.get_ref<const std::string&>().size() : o.dump().size());
        // Room for trailing whitespace, and for seeing that a longer output is wrong.
        return std::min(kMaxOut, 2 * longest + 4096);
    }

    SandboxJob job(const std::string& program, const CodeTests& t) const {
        static const char* const kModes[] = {"stdio", "call", "assert"};
        json spec = {{"mode", kModes[t.mode]},
                     {"fn_name", t.fn_name},
                     {"tests", t.inputs},
                     {"max_out", max_out(t)},
                     {"pid_ns", opt_.isolation == SandboxIsolation::namespaces}};
        SandboxJob j;
        j.argv = {opt_.python, "-s", "-B", "harness.py"};
        j.files = {{"harness.py", code_exec_harness_source()},
                   {"solution.py", program},
                   {"tests.json", spec.dump(-1, ' ', false, json::error_handler_t::replace)}};
        // A fixed hash seed: the same program prints a set the same way every time.
        j.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8",           "PYTHONIOENCODING=utf-8", "PYTHONHASHSEED=0",
                 "OMP_NUM_THREADS=1",  "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1"};
        return j;
    }

    SandboxLimits limits(const CodeTests& t) const {
        SandboxLimits l = limits_;
        // Every test's line, its output JSON-escaped (up to 6 bytes per byte) plus stderr's tail.
        l.output_bytes = std::min<size_t>(256u << 20, t.inputs.size() * (6 * max_out(t) + 8192) + 65536);
        return l;
    }

    std::string limit_text(const std::string& limit) const {
        if (limit == "syscall") return "a forbidden system call (network, ptrace, mount, namespaces...)";
        if (limit == "memory") return "the memory limit (" + std::to_string(limits_.memory_mb) + " MB)";
        if (limit == "file size") return "the file size limit (" + std::to_string(limits_.file_mb) + " MB)";
        if (limit == "processes") return "the process limit (" + std::to_string(limits_.processes) + ")";
        if (limit == "cpu time") return "the CPU time limit";
        return "the " + limit + " limit";
    }

    Verdict check(const CodeTests& t, size_t i, const json& line) const {
        Verdict v;
        v.limit = line.value("limit", "");
        const std::string err = line.value("err", "");
        if (!v.limit.empty()) {
            v.why =
                "stopped by " + limit_text(v.limit) + (last_line(err).empty() ? "" : ": " + last_line(err));
            return v;
        }
        const json& exit = field(line, "exit");
        if (!field(line, "signal").is_null()) {
            v.why = "killed by signal " + field(line, "signal").dump();
            return v;
        }
        if (t.mode == CodeTests::stdio) {
            const std::string out = line.value("out", "");
            if (exit != 0) {
                v.why = "exit status " + exit.dump() + (err.empty() ? "" : ": " + last_line(err));
            } else if (line.value("out_truncated", false) ||
                       !stdout_matches(out, t.outputs[i].get<std::string>())) {
                v.why = "expected " + quoted(t.outputs[i].get<std::string>()) + ", got " + quoted(out);
            } else {
                v.pass = true;
            }
            return v;
        }
        const json& result = field(line, "result");
        if (exit != 0 || !result.is_string()) {
            v.why = last_line(err).empty() ? "no result (exit status " + exit.dump() + ")" : last_line(err);
            return v;
        }
        if (t.mode == CodeTests::asserts) {
            v.pass = result == "done";
            if (!v.pass) v.why = "the assert did not complete";
            return v;
        }
        json got = json::parse(result.get<std::string>(), nullptr, false);
        v.pass = !got.is_discarded() && json_matches(got, t.outputs[i]);
        if (!v.pass)
            v.why = "expected " + quoted(t.outputs[i].dump()) + ", got " + quoted(result.get<std::string>());
        return v;
    }

    RewardResult judge(const CodeTests& t, const SandboxResult& run) const {
        RewardResult r;
        r.status = RewardStatus::error;
        if (!run.started) {
            r.detail = "code_exec: " + run.error;
            return r;
        }
        std::vector<json> lines;
        std::istringstream out(run.out);
        for (std::string s; std::getline(out, s);) {
            json j = json::parse(s, nullptr, false);
            if (j.is_object()) lines.push_back(std::move(j));
        }
        if (!lines.empty() && lines[0].contains("syntax_error")) {
            // 'File "solution.py", line 3' ... 'SyntaxError: invalid syntax'
            const std::string text = lines[0].value("syntax_error", "");
            r.detail = "code_exec: " + last_line(text) + " (" + text.substr(0, text.find('\n')) + ")";
            return r;
        }
        const size_t ran = lines.empty() ? 0 : lines.size() - 1;
        if (run.timed_out) {
            r.status = RewardStatus::timeout;
            r.detail = "code_exec: killed at the time limit (" + seconds_text(opt_.timeout_s) + ") after " +
                       std::to_string(ran) + " of " + std::to_string(t.inputs.size()) + " tests";
            return r;
        }
        if (lines.empty() || !lines[0].value("compiled", false)) {
            r.detail = "code_exec: the test harness failed (" +
                       (run.signal ? "signal " + std::to_string(run.signal)
                                   : "exit status " + std::to_string(run.exit_code)) +
                       (run.err.empty() ? ")" : "): " + last_line(run.err));
            if (!run.limit.empty()) r.detail += " stopped by " + limit_text(run.limit);
            return r;
        }
        size_t passed = 0;
        std::string failures, stopped;
        int shown = 0;
        for (size_t i = 0; i < t.inputs.size(); ++i) {
            Verdict v;
            if (i + 1 < lines.size() && lines[i + 1].value("test", -1) == static_cast<int>(i))
                v = check(t, i, lines[i + 1]);
            else
                v.why = "did not run";
            std::string name =
                "test " + std::to_string(i + 1) +
                (t.mode == CodeTests::asserts ? " (" + quoted(t.inputs[i].get<std::string>()) + ")" : "");
            if (v.pass) {
                ++passed;
            } else if (!v.limit.empty() && stopped.empty()) {
                stopped = name + ": " + v.why;
            } else if (shown < kShownFailures) {
                failures += "; " + name + ": " + v.why;
                ++shown;
            }
        }
        // Whatever the sandbox had to stop scores nothing, whatever else passed.
        if (!stopped.empty()) {
            r.detail = "code_exec: " + stopped;
            return r;
        }
        r.status = RewardStatus::ok;
        r.correct = passed == t.inputs.size();
        r.score = opt_.all_or_nothing ? (r.correct ? 1.0 : 0.0)
                                      : static_cast<double>(passed) / static_cast<double>(t.inputs.size());
        r.detail =
            std::to_string(passed) + "/" + std::to_string(t.inputs.size()) + " tests passed" + failures;
        return r;
    }

    CodeExecOptions opt_;
    SandboxLimits limits_;
};

}  // namespace

std::unique_ptr<RewardFn> make_code_exec_reward(const CodeExecOptions& opt) {
    if (opt.isolation == SandboxIsolation::namespaces) {
        std::string why = sandbox_unavailable_reason();
        STRIDE_CHECK(
            why.empty(),
            "reward.fn: code_exec runs model-written programs only in an isolated sandbox (user, "
            "network, pid and mount namespaces), which this machine does not allow: " +
                why +
                ". Allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; in "
                "Docker, a seccomp profile that permits clone/unshare), or set "
                "reward.code_exec_isolation: none to run them with resource limits and a syscall "
                "filter only");
    } else {
        spdlog::warn(
            "reward.code_exec_isolation: none: model-written programs run without namespaces, with resource "
            "limits and a syscall filter only; they can read this machine's files");
    }
    auto reward = std::make_unique<CodeExecReward>(opt);
    reward->check_runs();
    return reward;
}

}  // namespace stride
