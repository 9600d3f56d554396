// buffer/buffer_server.h: the experience buffer role. A ZeroMQ ROUTER in front of a RocksDB store of
// samples; producers (rollout, reward) put samples, the trainer pulls complete groups under a lease
// and commits them when its step is done. See buffer/README.md for the exact rules.
//
//   BufferServer server(config);   // opens the store (recovering it) and binds; throws on failure
//   server.start();                // serve on a thread ... or server.run() to serve on this one
//   server.stop();                 // from any thread; run() returns within ~50 ms
//
// Tested by tests/buffer/test_*.cpp (real sockets, real RocksDB, a kill -9 child process).
#pragma once
#include <memory>
#include <string>

#include "buffer/buffer_config.h"
#include "buffer/buffer_stats.h"

namespace stride {

class BufferServer {
   public:
    explicit BufferServer(const BufferServerConfig& config);
    ~BufferServer();  // stops and joins the thread started by start()
    BufferServer(const BufferServer&) = delete;
    BufferServer& operator=(const BufferServer&) = delete;

    void run();    // serves until stop()
    void start();  // run() on a new thread
    void stop();

    // The bound endpoint (the real port when config.endpoint ends in ":*").
    std::string endpoint() const;
    // A copy of the counters, safe from any thread.
    BufferStats stats() const;
    // The store's first failed write (a full or read-only disk: "'dir': IO error: No space left ..."),
    // "" while none failed. After one the buffer writes nothing more and refuses every put, commit and
    // pull (INTERNAL): the job must stop (scheduler/job.cpp, `stride role buffer`) and resume once the
    // disk is fixed. Safe from any thread.
    std::string failure() const;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace stride
