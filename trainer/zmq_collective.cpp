// trainer/zmq_collective.cpp: see zmq_collective.h.
#include "trainer/zmq_collective.h"

#include <fmt/format.h>
#include <zmq.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/base/deadline_poll.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

// A wait described by one poll function (deadline_poll's AsyncOp); nothing to abort: the sockets stay.
class PollOp : public AsyncOp {
   public:
    explicit PollOp(std::function<AsyncPoll()> poll) : poll_(std::move(poll)) {}
    AsyncPoll poll() override { return poll_(); }
    void abort() override {}

   private:
    std::function<AsyncPoll()> poll_;
};

std::string seq_text(uint64_t seq) {
    return std::to_string(seq);
}

}  // namespace

ZmqCollective::ZmqCollective(ZmqContext& ctx, ZmqCollectiveOptions opt)
    : opt_(std::move(opt)), sock_(ctx, opt_.rank == 0 ? ZMQ_ROUTER : ZMQ_DEALER) {
    STRIDE_CHECK(opt_.size >= 1 && opt_.rank >= 0 && opt_.rank < opt_.size,
                 fmt::format("trainer ranks: rank {} of {} is out of range", opt_.rank, opt_.size));
    STRIDE_CHECK(!opt_.endpoint.empty(), "trainer ranks: the group needs an endpoint");
    if (opt_.rank == 0) {
        sock_.set_int(ZMQ_ROUTER_MANDATORY, 1);  // a reply to a rank that is gone is an error, not a drop
        sock_.bind(opt_.endpoint);
    } else {
        sock_.connect(opt_.endpoint);
    }
    sock_.set_int(ZMQ_SNDHWM, 0);
    sock_.set_int(ZMQ_RCVHWM, 0);
    barrier("join");  // collective #1: rank 0 learns every rank's routing id
}

DeadlineOptions ZmqCollective::deadline(const std::string& what, double timeout_s) const {
    DeadlineOptions d;
    d.timeout_s = timeout_s;
    d.stop = opt_.stop;
    d.call = what;
    return d;
}

std::string ZmqCollective::why_gone() const {
    if (!opt_.peer_check) return {};
    // The peer's socket closed before its process was reaped: give the check a moment to see it.
    const auto until = Clock::now() + std::chrono::seconds(2);
    do {
        const std::string why = opt_.peer_check();
        if (!why.empty()) return ": " + why;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (Clock::now() < until);
    return {};
}

void ZmqCollective::fail(const std::string& what, const std::string& why) const {
    throw CollectiveError(
        fmt::format("trainer rank {} of {}: {} (collective #{}): {}", opt_.rank, opt_.size, what, seq_, why));
}

std::vector<std::string> ZmqCollective::gather(const std::string& mine, const std::string& what,
                                               double timeout_s) {
    std::vector<std::string> got(opt_.size);
    std::vector<bool> have(opt_.size, false);
    got[0] = mine;
    have[0] = true;
    int missing = opt_.size - 1;
    auto last_check = Clock::now();
    std::string broken;
    PollOp op([&]() -> AsyncPoll {
        while (missing > 0) {
            auto frames = sock_.recv_frames(0);
            if (!frames) break;
            // [routing id, group, rank, seq, payload]
            if (frames->size() != 5 || (*frames)[1] != opt_.group) continue;  // another incarnation's
            const int r = std::atoi((*frames)[2].c_str());
            if (r <= 0 || r >= opt_.size) continue;
            if ((*frames)[3] != seq_text(seq_))
                return {AsyncState::failed,
                        fmt::format("rank {} is at collective #{}, this is #{} (the ranks "
                                    "are out of step)",
                                    r, (*frames)[3], seq_)};
            if (have[r]) continue;
            routing_[r] = (*frames)[0];
            got[r] = std::move((*frames)[4]);
            have[r] = true;
            --missing;
        }
        if (missing == 0) return {AsyncState::done, ""};
        if (opt_.peer_check && Clock::now() - last_check > std::chrono::milliseconds(100)) {
            last_check = Clock::now();
            const std::string why = opt_.peer_check();
            if (!why.empty()) return {AsyncState::failed, why};
        }
        return {};
    });
    try {
        wait_with_deadline(op, deadline(what, timeout_s));
    } catch (const Error& e) {
        std::string absent;
        for (int r = 1; r < opt_.size; ++r)
            if (!have[r]) absent += (absent.empty() ? "" : ", ") + std::to_string(r);
        fail(what, fmt::format("waiting for rank(s) {}: {}", absent, e.what()));
    }
    return got;
}

std::string ZmqCollective::await_reply(const std::string& what, double timeout_s) {
    std::string reply;
    auto last_check = Clock::now();
    PollOp op([&]() -> AsyncPoll {
        while (auto frames = sock_.recv_frames(0)) {
            // [group, seq, payload]
            if (frames->size() != 3 || (*frames)[0] != opt_.group) continue;
            if ((*frames)[1] != seq_text(seq_))
                return {AsyncState::failed,
                        fmt::format("rank 0 answered collective #{}, this is #{}", (*frames)[1], seq_)};
            reply = std::move((*frames)[2]);
            return {AsyncState::done, ""};
        }
        if (opt_.peer_check && Clock::now() - last_check > std::chrono::milliseconds(100)) {
            last_check = Clock::now();
            const std::string why = opt_.peer_check();
            if (!why.empty()) return {AsyncState::failed, why};
        }
        return {};
    });
    try {
        wait_with_deadline(op, deadline(what, timeout_s));
    } catch (const Error& e) {
        fail(what, fmt::format("waiting for rank 0: {}", e.what()));
    }
    return reply;
}

std::string ZmqCollective::exchange(const std::string& mine,
                                    const std::function<std::string(std::vector<std::string>&)>& reply,
                                    const std::string& what, double timeout_s) {
    ++seq_;
    if (timeout_s < 0) timeout_s = opt_.timeout_s;
    if (opt_.size == 1) {
        std::vector<std::string> all{mine};
        return reply(all);
    }
    if (opt_.rank != 0) {
        if (!sock_.send_frames({opt_.group, std::to_string(opt_.rank), seq_text(seq_), mine},
                               static_cast<int>(opt_.timeout_s * 1000)))
            fail(what, "cannot send to rank 0");
        return await_reply(what, timeout_s);
    }
    std::vector<std::string> all = gather(mine, what, timeout_s);
    std::string out = reply(all);
    for (int r = 1; r < opt_.size; ++r) {
        bool sent = false;
        try {
            sent = sock_.send_frames({routing_.at(r), opt_.group, seq_text(seq_), out}, 1000);
        } catch (const Error& e) {  // EHOSTUNREACH (ZMQ_ROUTER_MANDATORY): the rank went away
        }
        if (!sent) fail(what, fmt::format("rank {} is gone (cannot send to it){}", r, why_gone()));
    }
    return out;
}

template <typename T>
void ZmqCollective::reduce(T* data, size_t n, ReduceOp op, const std::string& what) {
    const size_t bytes = n * sizeof(T);
    const std::string mine(reinterpret_cast<const char*>(data), bytes);
    const int size = opt_.size;
    const std::string out = exchange(
        mine,
        [&](std::vector<std::string>& all) {
            for (int r = 0; r < size; ++r)
                if (all[r].size() != bytes)
                    fail(what, fmt::format("rank {} sent {} bytes, rank 0 has {}", r, all[r].size(), bytes));
            std::vector<T> acc(n);
            std::memcpy(acc.data(), all[0].data(), bytes);
            for (int r = 1; r < size; ++r) {  // rank order: the same sum whoever came first
                const T* x = reinterpret_cast<const T*>(all[r].data());
                for (size_t i = 0; i < n; ++i) acc[i] += x[i];
            }
            if (op == ReduceOp::avg)
                for (T& a : acc) a /= static_cast<T>(size);
            return std::string(reinterpret_cast<const char*>(acc.data()), bytes);
        },
        what, -1);
    if (out.size() != bytes)
        fail(what, fmt::format("rank 0 answered {} bytes, expected {}", out.size(), bytes));
    std::memcpy(data, out.data(), bytes);
}

void ZmqCollective::all_reduce(float* data, size_t n, ReduceOp op, const std::string& what) {
    reduce(data, n, op, what);
}

void ZmqCollective::all_reduce(double* data, size_t n, ReduceOp op, const std::string& what) {
    reduce(data, n, op, what);
}

void ZmqCollective::broadcast_bytes(std::string& bytes, int root, const std::string& what, double timeout_s) {
    STRIDE_CHECK(root >= 0 && root < opt_.size, fmt::format("trainer ranks: broadcast from rank {}", root));
    const std::string mine = opt_.rank == root ? bytes : std::string();
    bytes = exchange(
        mine, [&](std::vector<std::string>& all) { return std::move(all[root]); }, what, timeout_s);
}

void ZmqCollective::broadcast(float* data, size_t n, int root, const std::string& what) {
    std::string bytes(reinterpret_cast<const char*>(data), n * sizeof(float));
    broadcast_bytes(bytes, root, what);
    if (bytes.size() != n * sizeof(float))
        fail(what,
             fmt::format("rank {} broadcast {} bytes, expected {}", root, bytes.size(), n * sizeof(float)));
    std::memcpy(data, bytes.data(), bytes.size());
}

void ZmqCollective::barrier(const std::string& what) {
    exchange(
        {}, [](std::vector<std::string>&) { return std::string(); }, what, -1);
}

void all_reduce_bucketed(Collective& c, float* data, size_t n, size_t bucket_elems, ReduceOp op,
                         const std::string& what) {
    STRIDE_CHECK(bucket_elems > 0, "all_reduce_bucketed: a bucket needs at least one element");
    const size_t buckets = std::max<size_t>(1, (n + bucket_elems - 1) / bucket_elems);
    for (size_t b = 0; b < buckets; ++b) {
        const size_t begin = b * bucket_elems, count = std::min(bucket_elems, n - begin);
        c.all_reduce(data + begin, count, op, fmt::format("{}, bucket {} of {}", what, b + 1, buckets));
    }
}

}  // namespace stride
