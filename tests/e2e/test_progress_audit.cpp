// bench/chaos/progress_audit.h on hand-written trained.jsonl files: with Sample.weights_used in the
// lines ("groups"' 6th element) the "trained from a discarded version" count is exact. An async group
// that started before a version's final publication and finished with those very weights is not
// counted (judging by time alone counted it); one generated with another instance of a version — the
// weights a resume threw away — is, and so is one whose version 0 differs from the run's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../../bench/chaos/progress_audit.h"

namespace {

using nlohmann::json;

// Three steps: version v's final weights have CRC 100 + v (line v published them, line v + 1
// started from them).
std::vector<json> lines() {
    auto line = [](int step, json groups) {
        return json{{"step", step},
                    {"policy_version", step - 1},
                    {"published_unix_ms", 1000 * step},
                    {"policy_crc32c", 100 + step - 1},
                    {"published_crc32c", 100 + step},
                    {"groups", groups},
                    {"quarantined", json::array()}};
    };
    // [group, samples, min version, max version, created_unix_ms, [[version, crc32c], ...]]
    return {
        line(1, json::array({json::array({"p0", 2, 0, 0, 500, json::array({json::array({0, 100})})})})),
        // Started at 900 with version 0, finished with version 1 (published at 1000): its version-1
        // tokens came from the final weights of version 1.
        line(2, json::array({json::array(
                    {"p1", 2, 0, 1, 900, json::array({json::array({0, 100}), json::array({1, 101})})})})),
        // Version 2 with weights 999: an instance of version 2 that a resume discarded.
        line(3, json::array({json::array({"p2", 2, 1, 2, 1500,
                                          json::array({json::array({1, 101}), json::array({2, 999})})}),
                             json::array({"p3", 2, 0, 0, 2500, json::array({json::array({0, 7})})})})),
    };
}

std::string write(const std::string& name, const std::vector<json>& ls) {
    const std::string path =
        (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()) + ".jsonl"))
            .string();
    std::ofstream out(path);
    for (const json& l : ls) out << l.dump() << "\n";
    return path;
}

}  // namespace

TEST(ProgressAudit, WeightsUsedMakeTheDiscardedVersionCountExact) {
    const std::string path = write("audit-exact", lines());
    const stride::chaos::ProgressAudit a = stride::chaos::audit_trained_log(path);
    EXPECT_EQ(a.groups, 4);
    EXPECT_EQ(a.judged_by_weights, 4);
    EXPECT_EQ(a.judged_by_time, 0);
    EXPECT_EQ(a.from_discarded, 2);  // p2 (version 2's other weights) and p3 (another version 0)
    std::string problems;
    for (const auto& p : a.problems) problems += p + "\n";
    EXPECT_NE(problems.find("group p2"), std::string::npos) << problems;
    EXPECT_NE(problems.find("version 2 weights 999"), std::string::npos) << problems;
    EXPECT_NE(problems.find("group p3"), std::string::npos) << problems;
    EXPECT_EQ(problems.find("group p1"), std::string::npos) << problems;
    std::filesystem::remove(path);
}

TEST(ProgressAudit, WithoutWeightsUsedTheCountIsTheTimeBasedUpperBound) {
    std::vector<json> ls = lines();
    for (json& l : ls)
        for (json& g : l["groups"]) g.erase(5);
    const std::string path = write("audit-time", ls);
    const stride::chaos::ProgressAudit a = stride::chaos::audit_trained_log(path);
    EXPECT_EQ(a.judged_by_time, 4);
    // p1 (created before version 1's publication) and p2 count; p3 holds only version 0, which the time
    // rule cannot judge. The exact count above differs in both directions.
    EXPECT_EQ(a.from_discarded, 2);
    std::string problems;
    for (const auto& p : a.problems) problems += p + "\n";
    EXPECT_NE(problems.find("group p1"), std::string::npos) << problems;
    std::filesystem::remove(path);
}

TEST(ProgressAudit, AVersionPublishedAndStartedFromWithDifferentWeightsIsAProblem) {
    std::vector<json> ls = lines();
    ls[1]["policy_crc32c"] = 555;  // step 2 started from weights version 1 never had
    const std::string path = write("audit-inconsistent", ls);
    const stride::chaos::ProgressAudit a = stride::chaos::audit_trained_log(path);
    ASSERT_FALSE(a.problems.empty());
    EXPECT_NE(a.problems.front().find("version 1"), std::string::npos) << a.problems.front();
    std::filesystem::remove(path);
}
