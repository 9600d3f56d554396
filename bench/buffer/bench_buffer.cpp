// bench/buffer/bench_buffer.cpp: experience-buffer throughput and latency over loopback, against two
// peers measured in the same run with the same bytes:
//   raw RocksDB  - the same samples written as WriteBatches straight into RocksDB (same options, same
//                  sync setting, same number of writer threads): the storage ceiling;
//   raw ZeroMQ   - the same put messages sent REQ -> ROUTER and answered with a small reply, no
//                  parsing or storage: the messaging ceiling.
// For 1 KB and 64 KB samples, WAL sync on and off: put-to-durable samples/s with p50/p99 latency of a
// put message, then pull+commit samples/s with p50/p99 of a pull. The last line is the headline:
// 1 KB puts with WAL sync on as a fraction of raw RocksDB writes.
//
//   bench_buffer [--seconds S] [--dir /tmp]        (default 1.5 s per measurement, under a minute total)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "buffer/sample_store.h"
#include "common/messaging.h"

using namespace stride;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kGroupSize = 8;
constexpr int kProducers = 8;  // concurrent producers (rollout workers), each with its own socket

// a + b + c... built with += (GCC 12 at -O3 warns falsely on "literal" + std::string&&).
template <class... Parts>
std::string cat(const Parts&... parts) {
    std::string s;
    ((s += parts), ...);
    return s;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Latencies {
    std::vector<double> ms;
    double pct(double p) {
        if (ms.empty()) return 0;
        std::sort(ms.begin(), ms.end());
        return ms[std::min(ms.size() - 1, size_t(p * double(ms.size())))];
    }
};

struct Result {
    double samples_per_s = 0;
    double mb_per_s = 0;
    double p50_ms = 0, p99_ms = 0;
};

// A sample whose serialized size is close to target bytes (response tokens carry id, logprob, version).
v1::Sample sized_sample(size_t target, const std::string& group, uint32_t index) {
    v1::Sample s;
    s.set_sample_id(cat(group, "/", std::to_string(index)));
    s.set_group_id(group);
    s.set_prompt_id(group);
    s.set_index_in_group(index);
    s.set_finish_reason(v1::FINISH_REASON_STOP);
    s.set_reward_status(v1::REWARD_STATUS_OK);
    for (int i = 0; i < 64; ++i) s.add_prompt_token_ids(1000 + i);
    // About 8 bytes per token (3-byte id varint, 4-byte float, 1-byte version): jump close, then step.
    auto add_tokens = [&](size_t n) {
        for (size_t i = 0; i < n; ++i) {
            s.add_response_token_ids(20000 + s.response_token_ids_size());
            s.add_behaviour_logprob(-0.25f);
            s.add_token_version(3);
        }
    };
    size_t base = s.ByteSizeLong();
    if (target > base + 64) add_tokens((target - base - 64) / 8);
    while (s.ByteSizeLong() < target) add_tokens(1);
    return s;
}

// Samples of one put message: whole groups, so every put completes groups the trainer can pull.
std::vector<v1::Sample> put_message(size_t bytes, int per_put, int producer, int seq) {
    std::vector<v1::Sample> out;
    for (int i = 0; i < per_put; ++i) {
        std::string group = cat("p", std::to_string(producer), "-", std::to_string(seq), "-",
                                std::to_string(i / int(kGroupSize)));
        out.push_back(sized_sample(bytes, group, uint32_t(i % kGroupSize)));
    }
    return out;
}

// Runs fn(thread, seq) -> samples on kProducers threads for `seconds`; fn returns the samples it made
// durable and is timed per call.
template <class Fn>
Result run_producers(double seconds, size_t sample_bytes, Fn fn) {
    std::atomic<uint64_t> total{0};
    std::vector<Latencies> lat(kProducers);
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kProducers; ++t)
        threads.emplace_back([&, t] {
            for (int seq = 0; seconds_since(start) < seconds; ++seq) {
                auto t0 = Clock::now();
                total += fn(t, seq);
                lat[t].ms.push_back(seconds_since(t0) * 1e3);
            }
        });
    for (auto& th : threads) th.join();
    double dt = seconds_since(start);
    Latencies all;
    for (auto& l : lat) all.ms.insert(all.ms.end(), l.ms.begin(), l.ms.end());
    Result r;
    r.samples_per_s = double(total) / dt;
    r.mb_per_s = r.samples_per_s * double(sample_bytes) / 1e6;
    r.p50_ms = all.pct(0.50);
    r.p99_ms = all.pct(0.99);
    return r;
}

Result bench_raw_rocksdb(const std::string& dir, size_t bytes, int per_put, bool sync, double seconds) {
    std::filesystem::remove_all(dir);
    SampleStore store(dir, sync);
    // Pre-serialize outside the timed region: the peer measures storage, not protobuf.
    struct Row {
        std::string group, sample, value;
    };
    std::vector<std::vector<Row>> msgs(kProducers);
    for (int t = 0; t < kProducers; ++t)
        for (const auto& s : put_message(bytes, per_put, t, 0))
            msgs[t].push_back({s.group_id(), s.sample_id(), s.SerializeAsString()});
    Result r = run_producers(seconds, bytes, [&](int t, int seq) {
        StoreBatch wb;
        std::string suffix = cat("#", std::to_string(seq));
        for (const auto& row : msgs[t]) wb.put_sample(cat(row.group, suffix), row.sample, row.value);
        std::string err = store.write(wb, /*must_sync=*/true);
        if (!err.empty()) std::fprintf(stderr, "rocksdb write: %s\n", err.c_str());
        return uint64_t(per_put);
    });
    return r;
}

Result bench_raw_zmq(size_t bytes, int per_put, double seconds) {
    ZmqContext ctx;
    ReplySocket server(ctx, "tcp://127.0.0.1:*");
    std::atomic<bool> stop{false};
    std::thread echo([&] {
        std::string ack(64 * per_put / 8 + 16, 'a');  // about a PutAck's size
        while (!stop)
            if (auto r = server.recv(10)) server.reply(*r, ack);
    });
    std::vector<std::string> payloads;
    for (int t = 0; t < kProducers; ++t) {
        v1::Envelope e = make_envelope("bench");
        for (auto& s : put_message(bytes, per_put, t, 0)) *e.mutable_put_samples()->add_samples() = s;
        payloads.push_back(encode_envelope(e));
    }
    std::vector<std::unique_ptr<RequestClient>> clients;
    for (int t = 0; t < kProducers; ++t)
        clients.push_back(std::make_unique<RequestClient>(ctx, server.endpoint(), "bench"));
    Result r = run_producers(seconds, bytes, [&](int t, int) {
        return clients[t]->call_raw(payloads[t], 5000) ? uint64_t(per_put) : 0;
    });
    stop = true;
    echo.join();
    return r;
}

struct BufferResult {
    Result put, pull;
};

BufferResult bench_buffer(const std::string& dir, size_t bytes, int per_put, bool sync, double seconds) {
    std::filesystem::remove_all(dir);
    BufferServerConfig cfg;
    cfg.job_id = "bench";
    cfg.endpoint = "tcp://127.0.0.1:*";
    cfg.dir = dir;
    cfg.group_size = kGroupSize;
    cfg.capacity_samples = 1ull << 40;
    cfg.sync_wal = sync;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    // Messages are built before timing; the clock covers send -> durable ack.
    std::vector<std::vector<v1::Sample>> base(kProducers);
    for (int t = 0; t < kProducers; ++t) base[t] = put_message(bytes, per_put, t, 0);
    std::vector<std::unique_ptr<BufferClient>> clients;
    for (int t = 0; t < kProducers; ++t)
        clients.push_back(std::make_unique<BufferClient>(ctx, server.endpoint(), "bench"));
    BufferResult out;
    out.put = run_producers(seconds, bytes, [&](int t, int seq) {
        std::string suffix = cat("#", std::to_string(seq));
        for (auto& s : base[t]) {  // new ids each put, same bytes
            std::string g = cat(s.group_id().substr(0, s.group_id().find('#')), suffix);
            s.set_group_id(g);
            s.set_sample_id(cat(g, "/", std::to_string(s.index_in_group())));
        }
        v1::PutAck ack = clients[t]->put(base[t]);
        return uint64_t(ack.durable_sample_ids_size() - ack.duplicates());
    });

    // Pull + commit, one trainer, 8 groups (64 samples) per step, until drained or out of time.
    BufferClientOptions topt;
    topt.trainer_id = "bench-trainer";
    BufferClient trainer(ctx, server.endpoint(), "bench", topt);
    Latencies lat;
    uint64_t pulled = 0;
    auto start = Clock::now();
    while (seconds_since(start) < seconds) {
        auto t0 = Clock::now();
        v1::Batch b = trainer.pull(8, 0);
        if (b.batch_id() == 0) break;
        lat.ms.push_back(seconds_since(t0) * 1e3);
        for (const auto& g : b.groups()) pulled += g.samples_size();
        trainer.commit(b.batch_id());
    }
    double dt = seconds_since(start);
    out.pull.samples_per_s = double(pulled) / dt;
    out.pull.mb_per_s = out.pull.samples_per_s * double(bytes) / 1e6;
    out.pull.p50_ms = lat.pct(0.5);
    out.pull.p99_ms = lat.pct(0.99);
    server.stop();
    return out;
}

void print(const char* what, const Result& r) {
    std::printf("  %-28s %10.0f samples/s %8.1f MB/s   p50 %7.3f ms  p99 %7.3f ms\n", what, r.samples_per_s,
                r.mb_per_s, r.p50_ms, r.p99_ms);
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 1.5;
    std::string base_dir = std::filesystem::temp_directory_path().string();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--seconds"))
            seconds = std::atof(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--dir"))
            base_dir = argv[i + 1];
    }
    std::string dir = cat(base_dir, "/stride-bench-buffer-", std::to_string(getpid()));
    spdlog::set_level(spdlog::level::warn);
    std::printf("bench_buffer: %d producers, group size %u, %.1f s per measurement, store under %s\n",
                kProducers, kGroupSize, seconds, dir.c_str());

    struct Case {
        size_t bytes;
        int per_put;
        const char* name;
    };
    const Case cases[] = {{1024, 128, "1KB"}, {64 * 1024, 8, "64KB"}};
    double headline_buffer = 0, headline_rocks = 0;
    for (const Case& c : cases) {
        Result zmq = bench_raw_zmq(c.bytes, c.per_put, seconds);
        for (bool sync : {true, false}) {
            std::printf("\n%s samples, %d per put, WAL sync %s\n", c.name, c.per_put, sync ? "on" : "off");
            Result rocks = bench_raw_rocksdb(cat(dir, "/raw"), c.bytes, c.per_put, sync, seconds);
            BufferResult buf = bench_buffer(cat(dir, "/buf"), c.bytes, c.per_put, sync, seconds);
            print("raw ZeroMQ round trip", zmq);
            print("raw RocksDB write", rocks);
            print("buffer put (durable ack)", buf.put);
            print("buffer pull+commit", buf.pull);
            std::printf("  ratios: put/raw RocksDB %.2f, put/raw ZeroMQ %.2f, pull/put %.2f\n",
                        buf.put.samples_per_s / rocks.samples_per_s,
                        buf.put.samples_per_s / zmq.samples_per_s,
                        buf.pull.samples_per_s / buf.put.samples_per_s);
            if (c.bytes == 1024 && sync) {
                headline_buffer = buf.put.samples_per_s;
                headline_rocks = rocks.samples_per_s;
            }
        }
    }
    std::filesystem::remove_all(dir);
    std::printf("\nbuffer put 1KB (WAL sync on): %.0f samples/s = %.2f of raw RocksDB writes\n",
                headline_buffer, headline_buffer / headline_rocks);
    return 0;
}
