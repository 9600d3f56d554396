// tests/buffer/test_group_index.cpp: the buffer's in-memory bookkeeping on its own: completion order,
// leases, release back into FIFO position, staleness selection, byte and sample accounting.
#include <gtest/gtest.h>

#include "buffer/group_index.h"

using namespace stride;

namespace {

void add_group(GroupIndex& idx, const std::string& g, int n, int64_t version) {
    for (int i = 0; i < n; ++i) idx.add_sample(g, {g + "-" + std::to_string(i), 100, version});
}

}  // namespace

TEST(GroupIndex, CompletionLeaseReleaseCommit) {
    GroupIndex idx(2);
    add_group(idx, "a", 2, 5);
    add_group(idx, "b", 1, 5);
    add_group(idx, "c", 2, 6);
    EXPECT_EQ(idx.stored_samples(), 5u);
    EXPECT_EQ(idx.stored_bytes(), 500u);
    EXPECT_EQ(idx.groups_ready(), 2u);
    EXPECT_EQ(idx.ready_groups(10), (std::vector<std::string>{"a", "c"}));

    idx.add_lease({1, {"a"}, 0});
    EXPECT_EQ(idx.ready_groups(10), (std::vector<std::string>{"c"}));
    EXPECT_EQ(idx.groups_leased(), 1u);
    add_group(idx, "b", 0, 5);
    idx.add_sample("b", {"b-1", 100, 4});  // b completes after c
    EXPECT_EQ(idx.ready_groups(10), (std::vector<std::string>{"c", "b"}));

    idx.release_lease(1);  // a goes back to the front: it completed first
    EXPECT_EQ(idx.ready_groups(10), (std::vector<std::string>{"a", "c", "b"}));
    EXPECT_EQ(idx.groups_leased(), 0u);

    idx.add_lease({2, {"a", "c"}, 0});
    idx.commit_lease(2);
    EXPECT_EQ(idx.stored_samples(), 2u);
    EXPECT_EQ(idx.groups_total(), 1u);
    EXPECT_EQ(idx.find_lease(2), nullptr);
}

TEST(GroupIndex, StaleSelectionSkipsLeasedGroups) {
    GroupIndex idx(2);
    add_group(idx, "old", 2, 1);
    add_group(idx, "old-leased", 2, 1);
    add_group(idx, "partial", 1, 2);
    add_group(idx, "new", 2, 9);
    idx.add_lease({7, {"old-leased"}, 0});
    EXPECT_EQ(idx.stale_groups(3), (std::vector<std::string>{"old", "partial"}));
    EXPECT_TRUE(idx.stale_groups(1).empty());
    idx.erase_groups({"old", "partial"});
    EXPECT_EQ(idx.stored_samples(), 4u);
    EXPECT_EQ(idx.ready_groups(5), (std::vector<std::string>{"new"}));
}

TEST(GroupIndex, ExpiryAndRecoveryOrder) {
    GroupIndex idx(1);
    idx.add_sample("young", {"y", 1, 9}, false);
    idx.add_sample("aged", {"a", 1, 2}, false);
    EXPECT_EQ(idx.groups_ready(), 0u);
    EXPECT_EQ(idx.complete_full_groups(), 2u);
    EXPECT_EQ(idx.ready_groups(5), (std::vector<std::string>{"aged", "young"}));  // oldest first
    idx.add_lease({3, {"aged"}, 1000});
    idx.add_lease({4, {"young"}, 0});  // never expires
    EXPECT_TRUE(idx.expired_leases(999).empty());
    EXPECT_EQ(idx.expired_leases(1000), (std::vector<uint64_t>{3}));
}
