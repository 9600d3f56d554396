// buffer/sample_store.cpp: see sample_store.h.
#include "buffer/sample_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include "common/base/error.h"

namespace stride {

namespace {

constexpr char kSamplePrefix = 's';
constexpr char kLeasePrefix = 'l';
constexpr char kCommittedPrefix = 'c';
constexpr char kPartialPrefix = 'p';
constexpr char kDonePrefix = 'd';
constexpr char kRedispatchPrefix = 'r';
const std::string kNextBatchKey = "mnext_batch_id";
const std::string kTrainerVersionKey = "mmax_trainer_version";

std::string encode_u64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
    return s;
}

uint64_t decode_u64(const rocksdb::Slice& s) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

std::string group_prefix(const std::string& group_id) {
    std::string k;
    k.reserve(group_id.size() + 2);
    k += kSamplePrefix;
    k += group_id;
    k += '\0';
    return k;
}

std::string sample_key(const std::string& group_id, const std::string& sample_id) {
    return group_prefix(group_id) + sample_id;
}

std::string partial_key(const std::string& worker_id, const std::string& group_id) {
    std::string k(1, kPartialPrefix);
    k += worker_id;
    k += '\0';
    k += group_id;
    return k;
}

std::string id_key(char prefix, uint64_t batch_id) {
    return std::string(1, prefix) + encode_u64(batch_id);
}

// Calls fn(value) for every key starting with prefix.
void scan_prefix(rocksdb::DB* db, const std::string& prefix,
                 const std::function<void(const rocksdb::Slice& key, const rocksdb::Slice& value)>& fn) {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;  // recovery scans would evict what pulls need
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        fn(it->key(), it->value());
    STRIDE_CHECK(it->status().ok(), "buffer store scan failed: " + it->status().ToString());
}

// RocksDB's own log goes to ours, not to a LOG file beside the data: on a full disk that file's writer
// fails too, and RocksDB's next message to it trips an assertion inside the library (an abort while
// it reports the very error we want to report).
class SpdlogLogger : public rocksdb::Logger {
   public:
    explicit SpdlogLogger(std::string dir) : rocksdb::Logger(rocksdb::WARN_LEVEL), dir_(std::move(dir)) {}
    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override { Logv(rocksdb::WARN_LEVEL, format, ap); }
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        if (level < GetInfoLogLevel()) return;
        char buf[1024];
        std::vsnprintf(buf, sizeof(buf), format, ap);
        if (level >= rocksdb::ERROR_LEVEL)
            spdlog::error("rocksdb '{}': {}", dir_, buf);
        else
            spdlog::warn("rocksdb '{}': {}", dir_, buf);
    }

   private:
    std::string dir_;
};

}  // namespace

// ---- StoreBatch --------------------------------------------------------------------------------

StoreBatch::StoreBatch() : wb_(std::make_unique<rocksdb::WriteBatch>()) {}
StoreBatch::~StoreBatch() = default;

void StoreBatch::put_sample(const std::string& group_id, const std::string& sample_id,
                            const std::string& bytes) {
    wb_->Put(sample_key(group_id, sample_id), bytes);
}

void StoreBatch::delete_sample(const std::string& group_id, const std::string& sample_id) {
    wb_->Delete(sample_key(group_id, sample_id));
}

void StoreBatch::put_lease(const v1::StoredLease& lease) {
    wb_->Put(id_key(kLeasePrefix, lease.batch_id()), lease.SerializeAsString());
}

void StoreBatch::delete_lease(uint64_t batch_id) {
    wb_->Delete(id_key(kLeasePrefix, batch_id));
}
void StoreBatch::put_committed(uint64_t batch_id) {
    wb_->Put(id_key(kCommittedPrefix, batch_id), "");
}
void StoreBatch::delete_committed(uint64_t batch_id) {
    wb_->Delete(id_key(kCommittedPrefix, batch_id));
}
void StoreBatch::put_next_batch_id(uint64_t next) {
    wb_->Put(kNextBatchKey, encode_u64(next));
}
void StoreBatch::put_max_trainer_version(int64_t version) {
    wb_->Put(kTrainerVersionKey, encode_u64(static_cast<uint64_t>(version)));
}
void StoreBatch::put_partial(const std::string& worker_id, const std::string& group_id,
                             const std::string& bytes) {
    wb_->Put(partial_key(worker_id, group_id), bytes);
}
void StoreBatch::delete_partial(const std::string& worker_id, const std::string& group_id) {
    wb_->Delete(partial_key(worker_id, group_id));
}
void StoreBatch::put_done(const std::string& group_id, int64_t step) {
    wb_->Put(std::string(1, kDonePrefix) + group_id, encode_u64(static_cast<uint64_t>(step)));
}
void StoreBatch::delete_done(const std::string& group_id) {
    wb_->Delete(std::string(1, kDonePrefix) + group_id);
}
void StoreBatch::put_redispatch(const std::string& group_id, const std::string& prompt_id) {
    wb_->Put(std::string(1, kRedispatchPrefix) + group_id, prompt_id);
}
void StoreBatch::delete_redispatch(const std::string& group_id) {
    wb_->Delete(std::string(1, kRedispatchPrefix) + group_id);
}
bool StoreBatch::empty() const {
    return wb_->Count() == 0;
}
size_t StoreBatch::data_bytes() const {
    return wb_->GetDataSize();
}

// ---- SampleStore -------------------------------------------------------------------------------

SampleStore::SampleStore(const std::string& dir, bool sync_wal) : dir_(dir), sync_wal_(sync_wal) {
    rocksdb::Options options;
    options.create_if_missing = true;
    // Samples are written once and deleted once (a queue): keep few, large memtables and let
    // compaction drop the tombstones in the background.
    options.write_buffer_size = 64 << 20;
    options.max_write_buffer_number = 4;
    options.IncreaseParallelism(2);
    options.compression = rocksdb::kNoCompression;  // token ids and floats hardly compress
    // Closing writes nothing (the WAL already holds every acknowledged write): on a full disk a
    // flush at close would fail again, and must not be attempted after a failed write (below).
    options.avoid_flush_during_shutdown = true;
    options.info_log = std::make_shared<SpdlogLogger>(dir);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // RocksDB creates only the last component
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
    STRIDE_CHECK(s.ok(), "cannot open buffer store '" + dir + "': " + s.ToString());
    db_.reset(db);
}

SampleStore::~SampleStore() {
    if (db_ && failed_.empty()) db_->Close();   // after a failed write, Close could trip the same assertion
    if (!failed_.empty()) (void)db_.release();  // the process ends soon; the WAL holds every ack
}

std::string SampleStore::write(StoreBatch& batch, bool must_sync) {
    if (batch.empty()) return "";
    // After a failed write (ENOSPC, EIO, EROFS) RocksDB's log writer is in an error state in which a
    // further write trips an assertion inside the library (an abort, not an error): write nothing more.
    if (!failed_.empty())
        return "an earlier write failed, nothing more is written until a restart: " + failed_;
    rocksdb::WriteOptions wo;
    wo.sync = sync_wal_ && must_sync;
    rocksdb::Status s = db_->Write(wo, batch.wb_.get());
    if (s.ok()) return "";
    failed_ = "'" + dir_ + "': " + s.ToString();
    return failed_;
}

bool SampleStore::read_group(const std::string& group_id, std::vector<std::string>* values) const {
    std::string prefix = group_prefix(group_id);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        values->push_back(it->value().ToString());
    return it->status().ok();
}

void SampleStore::scan_samples(const std::function<void(const std::string& bytes)>& fn) const {
    scan_prefix(db_.get(), std::string(1, kSamplePrefix),
                [&](const rocksdb::Slice&, const rocksdb::Slice& v) { fn(v.ToString()); });
}

void SampleStore::scan_leases(const std::function<void(const v1::StoredLease&)>& fn) const {
    scan_prefix(db_.get(), std::string(1, kLeasePrefix),
                [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
                    v1::StoredLease lease;
                    STRIDE_CHECK(lease.ParseFromArray(v.data(), static_cast<int>(v.size())),
                                 "buffer store '" + dir_ + "': unreadable lease record " + k.ToString(true));
                    fn(lease);
                });
}

std::vector<uint64_t> SampleStore::committed_ids() const {
    std::vector<uint64_t> ids;
    scan_prefix(db_.get(), std::string(1, kCommittedPrefix),
                [&](const rocksdb::Slice& k, const rocksdb::Slice&) {
                    ids.push_back(decode_u64(rocksdb::Slice(k.data() + 1, k.size() - 1)));
                });
    return ids;
}

uint64_t SampleStore::next_batch_id() const {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kNextBatchKey, &v);
    if (s.IsNotFound()) return 1;
    STRIDE_CHECK(s.ok(), "buffer store '" + dir_ + "': " + s.ToString());
    return decode_u64(v);
}

int64_t SampleStore::max_trainer_version() const {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kTrainerVersionKey, &v);
    if (s.IsNotFound()) return -1;
    STRIDE_CHECK(s.ok(), "buffer store '" + dir_ + "': " + s.ToString());
    return static_cast<int64_t>(decode_u64(v));
}

void SampleStore::scan_partials(
    const std::string& worker_id,
    const std::function<void(const std::string&, const std::string&, const std::string&)>& fn) const {
    std::string prefix(1, kPartialPrefix);
    if (!worker_id.empty()) prefix += worker_id + '\0';
    scan_prefix(db_.get(), prefix, [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        const std::string key = k.ToString();
        const size_t nul = key.find('\0', 1);
        STRIDE_CHECK(nul != std::string::npos,
                     "buffer store '" + dir_ + "': malformed in-flight record key " + k.ToString(true));
        fn(key.substr(1, nul - 1), key.substr(nul + 1), v.ToString());
    });
}

void SampleStore::scan_done(const std::function<void(const std::string&, int64_t)>& fn) const {
    scan_prefix(db_.get(), std::string(1, kDonePrefix),
                [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
                    fn(k.ToString().substr(1), static_cast<int64_t>(decode_u64(v)));
                });
}

void SampleStore::scan_redispatch(
    const std::function<void(const std::string&, const std::string&)>& fn) const {
    scan_prefix(
        db_.get(), std::string(1, kRedispatchPrefix),
        [&](const rocksdb::Slice& k, const rocksdb::Slice& v) { fn(k.ToString().substr(1), v.ToString()); });
}

uint64_t SampleStore::bytes_on_disk() const {
    uint64_t sst = 0, mem = 0;
    db_->GetIntProperty("rocksdb.total-sst-files-size", &sst);
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    return sst + mem;
}

}  // namespace stride
