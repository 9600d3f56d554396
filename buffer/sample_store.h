// buffer/sample_store.h: the experience buffer's RocksDB layout. One column family, keys by prefix:
//
//   's' group_id '\0' sample_id   -> stride.v1.Sample (serialized)      one per stored sample
//   'l' batch_id (8 bytes, BE)    -> stride.v1.StoredLease              one per open lease
//   'c' batch_id (8 bytes, BE)    -> ""                                 recently committed batches
//   'm' "next_batch_id"           -> 8 bytes BE                         batch ids never repeat
//   'm' "max_trainer_version"     -> 8 bytes BE                         newest version a pull named
//   'p' worker_id '\0' group_id  -> stride.v1.InFlightGroup            a rollout worker's unfinished group
//   'd' group_id                  -> trainer step (8 bytes BE)          trained (by that step), checkpointed:
//   done 'r' group_id                  -> prompt id                          deleted by a resume, to dispatch
//   again
//
// Ids may not contain '\0' (the server rejects such samples), so a group's samples are exactly the
// keys with prefix 's' group_id '\0'. Every change goes through one WriteBatch per group commit, so
// a crash leaves either all or none of a request's effects on disk.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/buffer_store.pb.h"
#include "proto/stride.pb.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace stride {

class SampleStore;

// The changes of one group commit. Cheap to build; nothing touches disk until SampleStore::write.
class StoreBatch {
   public:
    StoreBatch();
    ~StoreBatch();
    void put_sample(const std::string& group_id, const std::string& sample_id, const std::string& bytes);
    void delete_sample(const std::string& group_id, const std::string& sample_id);
    void put_lease(const v1::StoredLease& lease);
    void delete_lease(uint64_t batch_id);
    void put_committed(uint64_t batch_id);
    void delete_committed(uint64_t batch_id);
    void put_next_batch_id(uint64_t next);
    void put_max_trainer_version(int64_t version);  // >= 0
    void put_partial(const std::string& worker_id, const std::string& group_id, const std::string& bytes);
    void delete_partial(const std::string& worker_id, const std::string& group_id);
    void put_done(const std::string& group_id, int64_t step);  // step: the trainer step that trained it
    void delete_done(const std::string& group_id);
    void put_redispatch(const std::string& group_id, const std::string& prompt_id);
    void delete_redispatch(const std::string& group_id);
    bool empty() const;
    size_t data_bytes() const;

   private:
    friend class SampleStore;
    std::unique_ptr<rocksdb::WriteBatch> wb_;
};

class SampleStore {
   public:
    // Opens (creating if missing) the RocksDB directory. Throws stride::Error naming dir on failure.
    SampleStore(const std::string& dir, bool sync_wal);
    ~SampleStore();
    SampleStore(const SampleStore&) = delete;
    SampleStore& operator=(const SampleStore&) = delete;

    // Returns "" once the batch is in the WAL: fsynced when must_sync and sync_wal, else written to the
    // OS (survives a crash of this process). Otherwise the RocksDB error text; nothing was applied.
    // Only writes whose loss would lose acknowledged data need must_sync (puts): a lost lease, commit
    // or drop merely replays a batch, and the next synced write makes them durable too (one WAL).
    std::string write(StoreBatch& batch, bool must_sync);

    // The serialized samples of one group, in key order. Returns false on a read error.
    bool read_group(const std::string& group_id, std::vector<std::string>* values) const;

    // Recovery scans.
    void scan_samples(const std::function<void(const std::string& bytes)>& fn) const;
    void scan_leases(const std::function<void(const v1::StoredLease&)>& fn) const;
    std::vector<uint64_t> committed_ids() const;
    uint64_t next_batch_id() const;  // 1 on a fresh store
    // The newest trainer version any pull named (validation of sample versions); -1 on a fresh store.
    int64_t max_trainer_version() const;
    // In-flight groups: fn(worker_id, group_id, serialized InFlightGroup) for every record, or only
    // for one worker's when worker_id is not empty.
    void scan_partials(const std::string& worker_id,
                       const std::function<void(const std::string& worker_id, const std::string& group_id,
                                                const std::string& bytes)>& fn) const;

    // Groups trained by a checkpointed step (put_done): fn(group_id, the step that trained it) for each.
    void scan_done(const std::function<void(const std::string& group_id, int64_t step)>& fn) const;

    // Groups a resume deleted whose prompts are to be handed out again: fn(group_id, prompt_id).
    void scan_redispatch(
        const std::function<void(const std::string& group_id, const std::string& prompt_id)>& fn) const;

    uint64_t bytes_on_disk() const;  // SST files + memtables, RocksDB's own estimate
    const std::string& dir() const { return dir_; }
    // The first failed write ("'dir': IO error: No space left ..."), "" while none failed. Once set,
    // write() refuses everything: the buffer stops (BufferServer::failure).
    const std::string& failure() const { return failed_; }

   private:
    std::string dir_;
    bool sync_wal_;
    std::string failed_;
    std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace stride
