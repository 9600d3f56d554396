// The parent side of a reward pool: the dispatcher thread that feeds batches to worker processes,
// enforces per-sample deadlines and replaces workers that die or hang.
#include "reward/plugin/plugin_pool.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "common/base/error.h"
#include "common/bind_endpoint.h"
#include "common/messaging.h"
#include "reward/identifier.h"
#include "reward/plugin/plugin_protocol.h"
#include "reward/plugin/worker_process.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;
namespace wire = reward_wire;

// How often a worker reports finished samples of a long request. It is also the slack a request of
// several samples gets on top of timeout_s (see RewardRequest.flush_ms), so keep it small.
constexpr auto kFlush = std::chrono::milliseconds(50);
// How long workers get to exit by themselves at shutdown (a C plug-in's free runs) before SIGKILL.
constexpr double kStopGraceS = 1.0;

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A private directory for the ipc:// endpoint: only this user can connect and feed us scores.
std::string make_socket_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp ? tmp : "/tmp";
    if (base.size() > 60) base = "/tmp";  // an ipc path must fit sockaddr_un (108 bytes)
    std::string dir = base + "/stride-reward-XXXXXX";
    STRIDE_CHECK(mkdtemp(dir.data()) != nullptr,
                 "reward pool: mkdtemp in " + base + ": " + std::strerror(errno));
    return dir;
}

// now + seconds, capped (at 115 days) so that a huge limit cannot overflow the clock.
Clock::time_point after(double seconds) {
    return Clock::now() +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::min(seconds, 1e7)));
}

RewardResult failed(RewardStatus status, std::string detail) {
    RewardResult r;
    r.status = status;
    r.detail = std::move(detail);
    return r;
}

// One score_batch call: how many of its samples are still out.
struct Call {
    size_t left = 0;
};

struct Item {
    const RewardInput* in = nullptr;
    RewardResult* out = nullptr;
    Call* call = nullptr;
};

}  // namespace

// ---- the dispatcher --------------------------------------------------------------------------------

struct PluginPool::Dispatcher {
    enum class State { starting, loading, idle, busy };
    struct Worker {
        ChildProcess proc;
        State state = State::starting;
        std::string route;  // ZeroMQ routing id, known from its hello
        Clock::time_point deadline = Clock::time_point::max();
        uint64_t request = 0;
        std::vector<Item*> items;  // of the request in flight
        size_t next = 0;           // first item without a result
        bool remote = false;       // joined by itself (admit_remote): no process of ours to watch or kill
    };

    Dispatcher(const PluginSpec& spec, PluginOptions options);
    ~Dispatcher();

    void submit(std::vector<Item>& items);
    void shutdown();

    // ---- dispatcher thread ----
    void run();
    void loop();
    void start_workers();
    bool spawn();
    void assign();
    void send(Worker& w, std::vector<Item*> items);
    void wait_for_events();
    void on_message(std::vector<std::string>& frames);
    void on_scores(Worker& w, const std::string& bytes);
    void on_exit(Worker& w);
    void check_deadlines();
    void lost(Worker& w, RewardStatus status, const std::string& why);
    void start_failed(Worker& w, const std::string& why);
    void start_failed(const std::string& why);
    void remove(Worker& w);
    std::string finish(Worker& w, bool kill_it, double grace_s = 0.0);
    bool admit(const std::string& route);
    void bind_bridge();
    void complete(Item* it, RewardResult r);
    void publish();
    void stop_all(const std::string& why);
    Worker* find_route(const std::string& route);
    void remove_socket();
    int live() const { return static_cast<int>(workers.size()); }

    const PluginSpec spec;
    PluginOptions opt;
    const std::string name;  // file name, prefixing sample details
    std::vector<std::string> argv, env;

    // Shared with callers, under mu.
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Item*> incoming;
    bool stopping = false, stopped = false;
    std::string stop_detail;  // what later calls fail with
    enum class Start { pending, ok, failed } first_start = Start::pending;
    std::string start_error;
    PluginStats stats;

    int wake_fd = -1;
    std::string dir, endpoint;
    ZmqContext ctx;
    std::optional<ZmqSocket> router;
    std::thread thread;
    std::mutex join_mu;

    // Dispatcher thread only.
    std::list<Worker> workers;
    std::deque<Item*> queue;  // new samples, batched
    std::deque<Item*> alone;  // samples of a failed request, each scored in a request of its own
    std::vector<Item*> done;  // results written, not yet published to their callers
    uint64_t next_request = 0;
};

PluginPool::Dispatcher::Dispatcher(const PluginSpec& spec_, PluginOptions options)
    : spec(spec_), opt(std::move(options)), name(basename_of(spec_.path)), ctx(opt.curve) {
    if (opt.command.empty()) {
        argv = {opt.worker_exe, "reward",      "worker",
                "--plugin",     spec.path,     "--prefix",
                spec.prefix,    "--memory-mb", std::to_string(opt.memory_mb)};
    } else {
        argv = opt.command;
    }
    // One BLAS/OpenMP thread per worker: the pool is the parallelism, and threads would eat RLIMIT_AS.
    std::vector<std::string> extra = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"};
    extra.insert(extra.end(), opt.extra_env.begin(), opt.extra_env.end());
    env = child_environment(extra);

    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    STRIDE_CHECK(wake_fd >= 0, std::string("reward pool: eventfd: ") + std::strerror(errno));
    try {
        bind_bridge();
    } catch (...) {
        remove_socket();
        throw;
    }
    thread = std::thread([this] { run(); });
}

PluginPool::Dispatcher::~Dispatcher() {
    shutdown();
    remove_socket();
}

// The bridge: the ROUTER our workers connect to, on reward.bind or a private ipc:// directory. With
// the job's keys the context serves CURVE, so a peer without them is refused before any message.
void PluginPool::Dispatcher::bind_bridge() {
    if (opt.bind.empty()) {
        dir = make_socket_dir();
        endpoint = "ipc://" + dir + "/pool";
    } else {
        endpoint = opt.bind;
    }
    router.emplace(ctx, ZMQ_ROUTER);
    router->set_int(ZMQ_ROUTER_MANDATORY, 1);  // a send to a vanished worker fails, not vanishes
    try {
        router->bind(endpoint);
    } catch (const Error& e) {
        throw Error((opt.bind.empty() ? "reward pool: " : "reward.bind: ") + std::string(e.what()));
    }
    // Our own workers run on this host: a wildcard bind is reached through loopback.
    endpoint = advertised_endpoint(router->last_endpoint(), "127.0.0.1");
    argv.insert(argv.end(), {"--connect", endpoint});
    if (opt.curve) {
        STRIDE_CHECK(!opt.keys_dir.empty(),
                     "reward pool: CURVE keys without their directory for the workers");
        argv.insert(argv.end(), {"--keys-dir", opt.keys_dir});
    }
}

void PluginPool::Dispatcher::remove_socket() {
    router.reset();
    // Closing the socket does not reliably remove its file before we look: do it ourselves.
    if (!dir.empty()) {
        unlink((dir + "/pool").c_str());
        rmdir(dir.c_str());
    }
    close(wake_fd);
}

void PluginPool::Dispatcher::submit(std::vector<Item>& items) {
    Call& call = *items.front().call;
    std::unique_lock<std::mutex> lock(mu);
    stats.calls += static_cast<int64_t>(items.size());
    if (stopping || stopped) {
        stats.errors += static_cast<int64_t>(items.size());
        const std::string detail = stop_detail.empty() ? name + ": reward pool shut down" : stop_detail;
        for (Item& it : items) *it.out = failed(RewardStatus::error, detail);
        return;
    }
    for (Item& it : items) incoming.push_back(&it);
    call.left = items.size();
    lock.unlock();
    uint64_t one = 1;
    (void)!write(wake_fd, &one, sizeof one);
    lock.lock();
    cv.wait(lock, [&] { return call.left == 0; });
}

void PluginPool::Dispatcher::shutdown() {
    {
        std::lock_guard<std::mutex> lock(mu);
        stopping = true;
    }
    uint64_t one = 1;
    (void)!write(wake_fd, &one, sizeof one);
    std::lock_guard<std::mutex> lock(join_mu);
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
}

void PluginPool::Dispatcher::run() {
    std::string why;
    try {
        if (spawn()) loop();
    } catch (const std::exception& e) {
        why = name + ": reward pool failed: " + e.what();
    }
    stop_all(why);
}

void PluginPool::Dispatcher::loop() {
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mu);
            if (stopping) return;
            queue.insert(queue.end(), incoming.begin(), incoming.end());
            incoming.clear();
        }
        start_workers();
        assign();
        publish();
        wait_for_events();
        check_deadlines();
        publish();
    }
}

bool PluginPool::Dispatcher::spawn() {
    try {
        Worker w;
        w.proc = start_child(argv, env);
        workers.push_back(std::move(w));
    } catch (const std::exception& e) {
        start_failed(e.what());
        return false;
    }
    workers.back().deadline = after(opt.start_timeout_s);
    std::lock_guard<std::mutex> lock(mu);
    ++stats.spawns;
    return true;
}

// Enough workers for what waits, up to the pool size; the first request will not wait for them.
void PluginPool::Dispatcher::start_workers() {
    size_t waiting = queue.size() + alone.size();
    size_t coming = 0;
    for (const Worker& w : workers) coming += w.state != State::busy;
    while (waiting > coming && live() < opt.workers && spawn()) ++coming;
}

void PluginPool::Dispatcher::assign() {
    std::vector<Worker*> idle;  // send() may remove a worker: no list iteration across it
    for (Worker& w : workers)
        if (w.state == State::idle) idle.push_back(&w);
    for (size_t i = 0; i < idle.size(); ++i) {
        if (!alone.empty()) {
            send(*idle[i], {alone.front()});
            alone.pop_front();
        } else if (!queue.empty()) {
            // An even share per idle worker, so that one batch keeps the whole pool busy.
            const size_t share = (queue.size() + idle.size() - i - 1) / (idle.size() - i);
            const auto k = static_cast<std::ptrdiff_t>(std::min<size_t>(opt.max_batch, share));
            std::vector<Item*> items(queue.begin(), queue.begin() + k);
            queue.erase(queue.begin(), queue.begin() + k);
            send(*idle[i], std::move(items));
        }
    }
}

void PluginPool::Dispatcher::send(Worker& w, std::vector<Item*> items) {
    v1::RewardRequest req;
    req.set_request_id(++next_request);
    const bool several = items.size() > 1;
    if (opt.timeout_s > 0 && several) req.set_flush_ms(static_cast<uint32_t>(kFlush.count()));
    for (Item* it : items) wire::to_item(*it->in, req.add_items());
    w.state = State::busy;
    w.request = req.request_id();
    w.items = std::move(items);
    w.next = 0;
    w.deadline = Clock::time_point::max();
    if (opt.timeout_s > 0) w.deadline = after(opt.timeout_s) + (several ? kFlush : Clock::duration::zero());
    bool sent = false;
    try {
        sent = router->send_frames({w.route, wire::kScore, req.SerializeAsString()}, 0);
    } catch (const Error&) {  // EHOSTUNREACH: it disconnected, so it is dying
    }
    if (!sent) lost(w, RewardStatus::error, finish(w, true));
}

void PluginPool::Dispatcher::wait_for_events() {
    std::vector<zmq_pollitem_t> items = {{router->get(), 0, ZMQ_POLLIN, 0},
                                         {nullptr, wake_fd, ZMQ_POLLIN, 0}};
    std::vector<pid_t> watched;
    bool no_pidfd = false;
    auto next = Clock::time_point::max();
    for (const Worker& w : workers) {
        next = std::min(next, w.deadline);
        if (w.remote) continue;  // only its deadline and failed sends tell us it is gone
        if (w.proc.pidfd < 0) no_pidfd = true;
        if (w.proc.pidfd < 0) continue;
        items.push_back({nullptr, w.proc.pidfd, ZMQ_POLLIN, 0});
        watched.push_back(w.proc.pid);
    }
    long timeout_ms = -1;
    if (next != Clock::time_point::max())
        timeout_ms =
            std::max<long>(0, std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count());
    if (no_pidfd) timeout_ms = timeout_ms < 0 ? 20 : std::min(timeout_ms, 20L);  // poll for exits
    int rc = zmq_poll(items.data(), static_cast<int>(items.size()), timeout_ms);
    if (rc < 0) {
        STRIDE_CHECK(zmq_errno() == EINTR, std::string("zmq_poll: ") + zmq_strerror(zmq_errno()));
        return;
    }
    if (items[1].revents) {
        uint64_t v;
        (void)!read(wake_fd, &v, sizeof v);
    }
    // Messages first: a worker that replied and then died has its results counted.
    while (auto frames = router->recv_frames(0)) on_message(*frames);
    for (Worker& w : workers) {
        if (w.remote) continue;
        bool exited = w.proc.pidfd < 0 && w.proc.pid > 0 && child_exited(w.proc);
        for (size_t i = 0; i < watched.size(); ++i)
            exited |= watched[i] == w.proc.pid && items[i + 2].revents;
        if (exited) {
            on_exit(w);
            return;  // the list changed; the next round looks at the others
        }
    }
}

PluginPool::Dispatcher::Worker* PluginPool::Dispatcher::find_route(const std::string& route) {
    for (Worker& w : workers)
        if (w.route == route && !route.empty()) return &w;
    return nullptr;
}

void PluginPool::Dispatcher::on_message(std::vector<std::string>& frames) {
    if (frames.size() < 2) return;
    const std::string& kind = frames[1];
    if (kind == wire::kHello) {
        if (frames.size() > 2 && frames[2] == wire::kRemote) {
            admit(frames[0]);
            return;
        }
        pid_t pid = frames.size() > 2 ? static_cast<pid_t>(std::atol(frames[2].c_str())) : 0;
        for (Worker& w : workers) {
            if (w.proc.pid != pid || w.state != State::starting) continue;
            w.route = frames[0];
            w.state = State::loading;
            try {
                router->send_frames({w.route, wire::kSchema, wire::schema_descriptor(), opt.config_json}, 0);
            } catch (const Error&) {  // gone already: its exit is noticed like any other
            }
        }
        return;  // a process we did not start gets no schema and no work
    }
    Worker* w = find_route(frames[0]);
    if (!w) return;  // late words of a worker already replaced
    if (kind == wire::kReady && w->state == State::loading) {
        w->state = State::idle;
        w->deadline = Clock::time_point::max();
        std::lock_guard<std::mutex> lock(mu);
        if (first_start == Start::pending) first_start = Start::ok;
        cv.notify_all();
    } else if (kind == wire::kFailed) {
        finish(*w, false, kStopGraceS);  // it exits by itself
        start_failed(*w, frames.size() > 2 ? frames[2] : "worker failed to start");
    } else if (kind == wire::kScores && w->state == State::busy) {
        on_scores(*w, frames.size() > 2 ? frames[2] : std::string());
    }
}

void PluginPool::Dispatcher::on_scores(Worker& w, const std::string& bytes) {
    auto results = wire::read_scores(bytes, w.request, w.next, w.items.size(), name);
    if (!results) {
        lost(w, RewardStatus::error, "malformed reply (" + finish(w, true) + ")");
        return;
    }
    for (RewardResult& r : *results) complete(w.items[w.next++], std::move(r));
    if (w.next == w.items.size()) {
        w.state = State::idle;
        w.items.clear();
        w.deadline = Clock::time_point::max();
    } else if (opt.timeout_s > 0) {
        w.deadline = after(opt.timeout_s) + kFlush;
    }
}

void PluginPool::Dispatcher::on_exit(Worker& w) {
    if (w.state == State::loading) {
        // A worker that cannot load its plug-in says why (kFailed) and exits, and ZeroMQ may hand us
        // that message only after its exit is seen: wait a moment for it, so the error names the
        // problem instead of reading "exited with status 1".
        const std::string route = w.route;
        for (const auto until = after(0.5); Clock::now() < until;) {
            auto frames = router->recv_frames(20);
            if (!frames) continue;
            on_message(*frames);
            if (!find_route(route)) return;  // its message came and was handled (the list changed)
        }
        Worker* still = find_route(route);
        if (!still) return;
        std::string how = end_child(still->proc, false);
        start_failed(*still, "worker '" + argv[0] + "' did not start (" + how + ")");
        return;
    }
    std::string how = end_child(w.proc, false);
    if (w.state == State::busy) {
        {
            std::lock_guard<std::mutex> lock(mu);
            ++stats.crashes;
        }
        lost(w, RewardStatus::error, how);
    } else if (w.state == State::idle) {
        remove(w);  // replaced when work needs it
    } else {
        start_failed(w, "worker '" + argv[0] + "' did not start (" + how + ")");
    }
}

void PluginPool::Dispatcher::check_deadlines() {
    const auto now = Clock::now();
    for (Worker& w : workers) {
        if (w.deadline > now) continue;
        finish(w, true);
        if (w.state == State::busy) {
            char limit[32];
            std::snprintf(limit, sizeof limit, "%g", opt.timeout_s);
            lost(w, RewardStatus::timeout, std::string("no result within ") + limit + " s (worker killed)");
        } else {
            start_failed(w, "worker '" + argv[0] + "' did not start (no answer within start timeout)");
        }
        return;  // the list changed; the next round looks at the others
    }
}

// A busy worker is gone (already reaped). The one sample it had not reported is the culprit; of
// several, any could be, so each is scored again in a request of its own.
void PluginPool::Dispatcher::lost(Worker& w, RewardStatus status, const std::string& why) {
    const size_t unreported = w.items.size() - w.next;
    if (unreported == 1) {
        complete(w.items[w.next], failed(status, name + ": " + why));
    } else if (unreported > 1) {
        alone.insert(alone.end(), w.items.begin() + static_cast<std::ptrdiff_t>(w.next), w.items.end());
        std::lock_guard<std::mutex> lock(mu);
        stats.retries += static_cast<int64_t>(unreported);
    }
    remove(w);
}

void PluginPool::Dispatcher::start_failed(Worker& w, const std::string& why) {
    const bool remote = w.remote;
    finish(w, true);
    remove(w);
    if (!remote) start_failed(why);  // a remote worker that cannot load fails only itself
}

void PluginPool::Dispatcher::start_failed(const std::string& why) {
    {
        std::lock_guard<std::mutex> lock(mu);
        if (first_start == Start::pending) {
            first_start = Start::failed;
            start_error = why;
            cv.notify_all();
            return;
        }
    }
    // With no worker left nothing would ever score what waits: fail it rather than retry forever.
    if (workers.empty()) {
        for (auto* q : {&alone, &queue}) {
            for (Item* it : *q) complete(it, failed(RewardStatus::error, name + ": " + why));
            q->clear();
        }
    }
}

// A worker we give up on: our child is ended (killed, or given grace_s to exit) and reaped; a remote
// one is told to stop and forgotten (its late words find no route). Returns how it ended.
std::string PluginPool::Dispatcher::finish(Worker& w, bool kill_it, double grace_s) {
    if (!w.remote) return w.proc.pid > 0 ? end_child(w.proc, kill_it, grace_s) : "worker not started";
    try {
        router->send_frames({w.route, wire::kStop}, 0);
    } catch (const Error&) {  // already disconnected
    }
    return "remote worker dropped";
}

// A worker the pool did not start says `hello remote`. It is served only when the bridge is CURVE
// (so it holds the job's keys: the ZAP handler let it in) and the job asked for remote workers.
bool PluginPool::Dispatcher::admit(const std::string& route) {
    if (!opt.admit_remote || !opt.curve || route.empty() || find_route(route)) return false;
    Worker w;
    w.remote = true;
    w.route = route;
    w.state = State::loading;
    w.deadline = after(opt.start_timeout_s);
    workers.push_back(std::move(w));
    try {
        router->send_frames({route, wire::kSchema, wire::schema_descriptor(), opt.config_json}, 0);
    } catch (const Error&) {  // gone already: its start deadline removes it
    }
    std::lock_guard<std::mutex> lock(mu);
    ++stats.remote_joined;
    return true;
}

void PluginPool::Dispatcher::remove(Worker& w) {
    workers.remove_if([&](const Worker& x) { return &x == &w; });
}

void PluginPool::Dispatcher::complete(Item* it, RewardResult r) {
    *it->out = std::move(r);
    done.push_back(it);
}

void PluginPool::Dispatcher::publish() {
    if (done.empty()) return;
    std::lock_guard<std::mutex> lock(mu);
    for (Item* it : done) {
        stats.errors += it->out->status == RewardStatus::error;
        stats.timeouts += it->out->status == RewardStatus::timeout;
        --it->call->left;
    }
    done.clear();
    cv.notify_all();
}

void PluginPool::Dispatcher::stop_all(const std::string& why) {
    const std::string detail = why.empty() ? name + ": reward pool shut down" : why;
    {
        std::lock_guard<std::mutex> lock(mu);
        stopped = true;  // from here on, callers fail at once instead of queueing
        stop_detail = detail;
        queue.insert(queue.end(), incoming.begin(), incoming.end());
        incoming.clear();
        if (first_start == Start::pending) {
            first_start = Start::failed;
            start_error = detail;
        }
    }
    for (auto* q : {&alone, &queue}) {
        for (Item* it : *q) complete(it, failed(RewardStatus::error, detail));
        q->clear();
    }
    for (Worker& w : workers) {
        if (w.state == State::busy) {
            finish(w, true);  // no waiting on a sample that may never finish
            for (size_t i = w.next; i < w.items.size(); ++i)
                complete(w.items[i], failed(RewardStatus::error, detail));
        } else if (w.state == State::idle) {
            try {
                router->send_frames({w.route, wire::kStop}, 0);
            } catch (const Error&) {
            }
        }
    }
    bool remote = false;
    for (Worker& w : workers) {
        if (!w.remote) continue;
        remote = true;
        if (w.state == State::loading) finish(w, true);
    }
    // A remote worker's stop must leave before the socket closes (linger 0 would drop it): closing
    // the context waits up to this long for it.
    if (remote) router->set_int(ZMQ_LINGER, static_cast<int>(kStopGraceS * 1000));
    const auto until = Clock::now() + std::chrono::duration<double>(kStopGraceS);
    for (Worker& w : workers) {
        double left = std::chrono::duration<double>(until - Clock::now()).count();
        if (w.proc.pid > 0 && !w.remote) end_child(w.proc, w.state != State::idle, std::max(0.0, left));
    }
    workers.clear();
    publish();
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
}

// ---- the pool --------------------------------------------------------------------------------------

bool is_plugin_spec(const std::string& fn) {
    return fn.rfind("plugin:", 0) == 0;
}

PluginSpec parse_plugin_spec(const std::string& fn) {
    STRIDE_CHECK(is_plugin_spec(fn), "reward.fn: '" + fn + "' is not plugin:path[:prefix]");
    PluginSpec spec;
    spec.path = fn.substr(7);
    // A trailing ":name" is the symbol prefix; a colon followed by anything else belongs to the path.
    auto colon = spec.path.rfind(':');
    if (colon != std::string::npos && spec.path.find('/', colon) == std::string::npos) {
        std::string prefix = spec.path.substr(colon + 1);
        STRIDE_CHECK(is_identifier(prefix),
                     "reward.fn: plugin symbol prefix '" + prefix + "' is not a C name");
        spec.prefix = prefix;
        spec.path.resize(colon);
    }
    STRIDE_CHECK(!spec.path.empty(), "reward.fn: plugin: needs a library path (plugin:path/to/lib.so)");
    // dlopen("lib.so") would search the library path; the user means the file next to them.
    if (spec.path.find('/') == std::string::npos) spec.path = "./" + spec.path;
    return spec;
}

PluginPool::PluginPool(PluginSpec spec, PluginOptions opt) : spec_(std::move(spec)) {
    const std::string where = "reward.fn: " + opt.kind + " '" + spec_.path + "'";
    STRIDE_CHECK(access(spec_.path.c_str(), R_OK) == 0, where + ": " + std::strerror(errno));
    if (opt.workers <= 0)
        opt.workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
    opt.max_batch = std::max(1, opt.max_batch);
    if (opt.command.empty() && opt.worker_exe.empty()) {
        const char* env = std::getenv("STRIDE_REWARD_WORKER");
        opt.worker_exe = env && *env ? env : self_exe_path();
        // Exec'ing some other program (a test binary, an embedding host) with `reward worker`
        // arguments would run that program instead: say what to set rather than guess.
        STRIDE_CHECK((env && *env) || basename_of(opt.worker_exe).rfind("stride", 0) == 0,
                     where + ": this process is not the stride binary; set STRIDE_REWARD_WORKER to it");
    }
    d_ = std::make_unique<Dispatcher>(spec_, std::move(opt));
    std::unique_lock<std::mutex> lock(d_->mu);
    d_->cv.wait(lock, [&] { return d_->first_start != Dispatcher::Start::pending; });
    if (d_->first_start == Dispatcher::Start::failed) {
        std::string why = d_->start_error;
        lock.unlock();
        d_.reset();
        throw Error(where + ": " + why);
    }
}

PluginPool::~PluginPool() = default;

std::vector<RewardResult> PluginPool::score_batch(const std::vector<RewardInput>& in) {
    std::vector<RewardResult> out(in.size());
    if (in.empty()) return out;
    Call call;
    std::vector<Item> items(in.size());
    for (size_t i = 0; i < in.size(); ++i) items[i] = Item{&in[i], &out[i], &call};
    d_->submit(items);
    return out;
}

RewardResult PluginPool::score(const RewardInput& in) {
    return score_batch({in}).front();
}

void PluginPool::shutdown() {
    d_->shutdown();
}

PluginStats PluginPool::stats() const {
    std::lock_guard<std::mutex> lock(d_->mu);
    PluginStats s = d_->stats;
    s.auth_refused = d_->ctx.auth_refused();
    return s;
}

std::string PluginPool::endpoint() const {
    return d_->endpoint;  // set before the dispatcher thread starts, never changed
}

}  // namespace stride
