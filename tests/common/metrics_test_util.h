// Helpers of the metrics tests that run real processes: free loopback ports, a child process with its
// output in a file (killed when the test ends), HTTP GET, and a tiny job config.
#pragma once
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace stride::test {

inline bool port_free(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    return ok;
}

// A base port with `count` free ports after it, away from the ephemeral range, varied by pid so that
// parallel test binaries rarely try the same one.
inline int free_port_range(int count) {
    for (int attempt = 0; attempt < 200; ++attempt) {
        const int base = 20000 + static_cast<int>((getpid() * 131 + attempt * 97) % 25000);
        bool all = true;
        for (int i = 0; i < count && all; ++i) all = port_free(base + i);
        if (all) return base;
    }
    return 0;
}

inline bool have_program(const std::string& name) {
    return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// A child process (argv[0] looked up in PATH) with stdout+stderr in `log`; signalled (SIGINT, then
// SIGKILL) and reaped when destroyed.
class Child {
   public:
    Child(const std::vector<std::string>& argv, const std::string& log) {
        pid_ = fork();
        if (pid_ == 0) {
            FILE* f = std::fopen(log.c_str(), "w");
            if (f) {
                dup2(fileno(f), 1);
                dup2(fileno(f), 2);
            }
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
    }
    ~Child() { stop(); }
    // SIGINT, then SIGKILL after `grace`; returns the exit status (or -1).
    int stop(std::chrono::seconds grace = std::chrono::seconds(30)) {
        if (pid_ <= 0) return status_;
        kill(pid_, SIGINT);
        const auto deadline = std::chrono::steady_clock::now() + grace;
        int st = 0;
        while (waitpid(pid_, &st, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &st, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return status_;
    }
    bool running() {
        if (pid_ <= 0) return false;
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == 0) return true;
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return false;
    }

   private:
    pid_t pid_ = -1;
    int status_ = -1;
};

// GET http://127.0.0.1:port/path; empty string when there is no 200 answer.
inline std::string http_get(int port, const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
    auto res = c.Get(path.c_str());
    if (!res || res->status != 200) return "";
    return res->body;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string make_temp_dir(const std::string& name) {
    namespace fs = std::filesystem;
    fs::path p = fs::temp_directory_path() / ("stride-metrics-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// A job that runs for minutes unless stopped (the tests SIGINT it once they have what they need).
inline std::string write_long_job(const std::string& dir, int metrics_port, const std::string& extra = "") {
    const std::string path = dir + "/job.yaml";
    std::ofstream out(path);
    out << "name: prom\nseed: 3\nrun_dir: " << dir << "/runs\n"
        << "tokenizer: " << STRIDE_SOURCE_DIR << "/configs/tokenizers/arith/tokenizer.json\n"
        << "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: 64}\n"
        << "data: {train: 'gen:arith?n=300&seed=2', eval_size: 0}\n"
        << "rollout: {n: 4, max_tokens: 5, workers: 2}\n"
        << "reward: {fn: arith}\n"
        << "trainer: {steps: 100000, prompts_per_step: 4, lr: 0.001, eval_every: 0, checkpoint_every: 0}\n"
        << "log: {level: warn}\n"
        << "metrics: {port: " << metrics_port << "}\n"
        << extra;
    return path;
}

}  // namespace stride::test
