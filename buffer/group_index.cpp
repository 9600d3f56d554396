// buffer/group_index.cpp: see group_index.h.
#include "buffer/group_index.h"

#include <algorithm>

#include "common/base/error.h"

namespace stride {

const GroupEntry* GroupIndex::find(const std::string& group_id) const {
    auto it = groups_.find(group_id);
    return it == groups_.end() ? nullptr : &it->second;
}

bool GroupIndex::contains(const std::string& group_id, const std::string& sample_id) const {
    const GroupEntry* g = find(group_id);
    if (!g) return false;
    for (const auto& s : g->samples)
        if (s.sample_id == sample_id) return true;
    return false;
}

bool GroupIndex::has_index(const std::string& group_id, int64_t index_in_group) const {
    const GroupEntry* g = find(group_id);
    if (!g) return false;
    for (const auto& s : g->samples)
        if (s.index_in_group == index_in_group) return true;
    return false;
}

void GroupIndex::make_available(GroupEntry& g) {
    by_version_.emplace(g.oldest_version, g.group_id);
    if (g.complete_seq) ready_.emplace(g.complete_seq, g.group_id);
}

void GroupIndex::make_unavailable(GroupEntry& g) {
    by_version_.erase({g.oldest_version, g.group_id});
    if (g.complete_seq) ready_.erase(g.complete_seq);
}

void GroupIndex::add_sample(const std::string& group_id, SampleRef ref, bool complete_now) {
    auto [it, fresh] = groups_.try_emplace(group_id);
    GroupEntry& g = it->second;
    STRIDE_CHECK(g.lease == 0 && g.complete_seq == 0, "group " + group_id + " is already complete");
    if (fresh) {
        g.group_id = group_id;
        g.oldest_version = ref.oldest_version;
        g.newest_version = ref.newest_version;
    } else {
        make_unavailable(g);
        g.oldest_version = std::min(g.oldest_version, ref.oldest_version);
        g.newest_version = std::max(g.newest_version, ref.newest_version);
    }
    stored_samples_ += 1;
    stored_bytes_ += ref.bytes;
    g.samples.push_back(std::move(ref));
    if (complete_now && g.samples.size() >= group_size_) g.complete_seq = next_complete_seq_++;
    make_available(g);
}

size_t GroupIndex::complete_full_groups() {
    std::vector<std::pair<int64_t, std::string>> full;
    for (const auto& [id, g] : groups_)
        if (!g.complete_seq && g.samples.size() >= group_size_) full.emplace_back(g.oldest_version, id);
    std::sort(full.begin(), full.end());
    for (const auto& [version, id] : full) {
        GroupEntry& g = groups_.at(id);
        make_unavailable(g);
        g.complete_seq = next_complete_seq_++;
        make_available(g);
    }
    return full.size();
}

std::vector<std::string> GroupIndex::stale_groups(int64_t min_version) const {
    std::vector<std::string> out;
    for (const auto& [version, group_id] : by_version_) {
        if (version >= min_version) break;
        out.push_back(group_id);
    }
    return out;
}

std::vector<std::string> GroupIndex::ready_groups(size_t k) const {
    std::vector<std::string> out;
    for (auto it = ready_.begin(); it != ready_.end() && out.size() < k; ++it) out.push_back(it->second);
    return out;
}

void GroupIndex::erase_groups(const std::vector<std::string>& group_ids) {
    for (const auto& id : group_ids) {
        auto it = groups_.find(id);
        if (it == groups_.end()) continue;
        GroupEntry& g = it->second;
        if (g.lease)
            --groups_leased_;
        else
            make_unavailable(g);
        for (const auto& s : g.samples) {
            stored_samples_ -= 1;
            stored_bytes_ -= s.bytes;
        }
        groups_.erase(it);
    }
}

void GroupIndex::add_lease(Lease lease) {
    for (const auto& id : lease.group_ids) {
        auto it = groups_.find(id);
        STRIDE_CHECK(it != groups_.end() && it->second.lease == 0 && it->second.complete_seq,
                     "cannot lease group " + id + ": not a complete, unleased group");
        make_unavailable(it->second);
        it->second.lease = lease.batch_id;
        ++groups_leased_;
    }
    uint64_t id = lease.batch_id;
    leases_.emplace(id, std::move(lease));
}

const Lease* GroupIndex::find_lease(uint64_t batch_id) const {
    auto it = leases_.find(batch_id);
    return it == leases_.end() ? nullptr : &it->second;
}

uint64_t GroupIndex::lease_samples(const Lease& lease) const {
    uint64_t n = 0;
    for (const auto& id : lease.group_ids)
        if (const GroupEntry* g = find(id)) n += g->samples.size();
    return n;
}

void GroupIndex::mark_trained(uint64_t batch_id, int64_t step) {
    auto it = leases_.find(batch_id);
    if (it == leases_.end() || it->second.trained_step > 0) return;
    it->second.trained_step = step;
    it->second.deadline_ms = 0;
    trained_samples_ += lease_samples(it->second);
}

void GroupIndex::release_lease(uint64_t batch_id) {
    auto it = leases_.find(batch_id);
    if (it == leases_.end()) return;
    if (it->second.trained_step > 0) trained_samples_ -= lease_samples(it->second);
    for (const auto& id : it->second.group_ids) {
        auto g = groups_.find(id);
        if (g == groups_.end() || g->second.lease != batch_id) continue;
        g->second.lease = 0;
        --groups_leased_;
        make_available(g->second);
    }
    leases_.erase(it);
}

void GroupIndex::commit_lease(uint64_t batch_id) {
    auto it = leases_.find(batch_id);
    if (it == leases_.end()) return;
    if (it->second.trained_step > 0) trained_samples_ -= lease_samples(it->second);
    erase_groups(it->second.group_ids);
    leases_.erase(it);
}

std::vector<uint64_t> GroupIndex::expired_leases(int64_t now_ms) const {
    std::vector<uint64_t> out;
    for (const auto& [id, lease] : leases_)
        if (!lease.trained_step && lease.deadline_ms && lease.deadline_ms <= now_ms) out.push_back(id);
    return out;
}

std::vector<uint64_t> GroupIndex::lease_ids() const {
    std::vector<uint64_t> out;
    for (const auto& [id, lease] : leases_)
        if (!lease.trained_step) out.push_back(id);
    return out;
}

std::vector<uint64_t> GroupIndex::trained_batches(int64_t first, int64_t last) const {
    std::vector<uint64_t> out;
    for (const auto& [id, lease] : leases_)
        if (lease.trained_step > 0 && lease.trained_step >= first && lease.trained_step <= last)
            out.push_back(id);
    return out;
}

std::vector<std::string> GroupIndex::groups_newer_than(int64_t version) const {
    std::vector<std::string> out;
    for (const auto& [id, g] : groups_)
        if (g.newest_version > version) out.push_back(id);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace stride
