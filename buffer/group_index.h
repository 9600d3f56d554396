// buffer/group_index.h: the experience buffer's in-memory view of what RocksDB holds: which samples
// belong to which group, which groups are complete, which are leased to a trainer, and how old each
// group is. Sample bytes stay on disk; this index holds ids, sizes and versions only.
//
// The index is mutated only after the matching RocksDB write succeeded, so it never claims more than
// the disk holds. Queries (stale_groups, ready_groups) do not mutate, so the server can plan a write,
// perform it, and only then apply it.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace stride {

struct SampleRef {
    std::string sample_id;
    uint64_t bytes = 0;
    int64_t oldest_version = 0;   // min token version (or policy_version): what staleness looks at
    int64_t newest_version = 0;   // max of the same: what a resume from an older checkpoint looks at
    int64_t index_in_group = -1;  // -1: unknown (not checked for duplicates)
};

struct GroupEntry {
    std::string group_id;
    std::vector<SampleRef> samples;
    int64_t oldest_version = 0;  // min over samples
    int64_t newest_version = 0;  // max over samples
    uint64_t complete_seq = 0;   // order in which groups completed (0 = incomplete): pulls are FIFO
    uint64_t lease = 0;          // batch id holding the group, 0 = not leased
};

struct Lease {
    uint64_t batch_id = 0;
    std::vector<std::string> group_ids;
    int64_t deadline_ms = 0;  // steady-clock ms; 0 = never expires
    // > 0: committed by this trainer step, kept until a checkpoint covers it (never expires, not
    // released by ReleaseLeases); 0: pulled, not yet trained.
    int64_t trained_step = 0;
};

class GroupIndex {
   public:
    explicit GroupIndex(uint32_t group_size) : group_size_(group_size) {}

    uint32_t group_size() const { return group_size_; }
    const GroupEntry* find(const std::string& group_id) const;
    bool contains(const std::string& group_id, const std::string& sample_id) const;
    // Whether the group holds a sample at this index_in_group (a second one is refused at the door).
    bool has_index(const std::string& group_id, int64_t index_in_group) const;

    // Adds a sample (caller checked it is new and the group has room). Completes the group when it
    // reaches group_size samples, unless complete_now is false (recovery orders completion itself).
    void add_sample(const std::string& group_id, SampleRef ref, bool complete_now = true);

    // Unleased groups (complete or not) whose oldest sample version is below min_version.
    std::vector<std::string> stale_groups(int64_t min_version) const;
    // Up to k complete, unleased groups, oldest completion first.
    std::vector<std::string> ready_groups(size_t k) const;
    // Removes groups (dropped or committed) from the index.
    void erase_groups(const std::vector<std::string>& group_ids);

    void add_lease(Lease lease);
    const Lease* find_lease(uint64_t batch_id) const;
    // Ends a lease without deleting its groups: they are complete and pullable again, in their
    // original completion order (so a replayed batch is served first).
    void release_lease(uint64_t batch_id);
    // Ends a lease and deletes its groups (commit).
    void commit_lease(uint64_t batch_id);
    // A trained batch (commit with a trainer step): kept, never expires, not released by release.
    void mark_trained(uint64_t batch_id, int64_t step);
    // Untrained leases past their deadline.
    std::vector<uint64_t> expired_leases(int64_t now_ms) const;
    // Untrained leases (what ReleaseLeases ends).
    std::vector<uint64_t> lease_ids() const;
    // Trained batches whose step is in [first, last].
    std::vector<uint64_t> trained_batches(int64_t first, int64_t last) const;
    // Groups, in any state, holding a sample with a version above `version`.
    std::vector<std::string> groups_newer_than(int64_t version) const;

    uint64_t stored_samples() const { return stored_samples_; }
    uint64_t stored_bytes() const { return stored_bytes_; }
    uint64_t groups_total() const { return groups_.size(); }
    uint64_t groups_ready() const { return ready_.size(); }
    uint64_t groups_leased() const { return groups_leased_; }
    uint64_t leases_open() const { return leases_.size(); }
    // Samples of trained batches (on disk until a checkpoint covers them; outside back-pressure).
    uint64_t trained_samples() const { return trained_samples_; }

    // Recovery: completes every group that holds group_size samples, oldest version first (disk
    // order is by group id, which says nothing about age). Returns how many it completed.
    size_t complete_full_groups();

   private:
    void make_available(GroupEntry& g);  // into ready_ (if complete) and by_version_
    void make_unavailable(GroupEntry& g);

    uint32_t group_size_;
    std::unordered_map<std::string, GroupEntry> groups_;
    std::map<uint64_t, std::string> ready_;                 // complete_seq -> group, unleased
    std::set<std::pair<int64_t, std::string>> by_version_;  // unleased groups by oldest version
    std::map<uint64_t, Lease> leases_;
    uint64_t next_complete_seq_ = 1;
    uint64_t stored_samples_ = 0;
    uint64_t stored_bytes_ = 0;
    uint64_t groups_leased_ = 0;
    uint64_t trained_samples_ = 0;
    uint64_t lease_samples(const Lease& lease) const;
};

}  // namespace stride
