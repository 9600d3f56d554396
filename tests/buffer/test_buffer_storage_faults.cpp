// tests/buffer/test_buffer_storage_faults.cpp: a full or read-only disk under the buffer is an error
// with the path and the cause, never an abort (issue #15). Each case runs in a child process on a small
// tmpfs of its own (tests/tmpfs_test_util.h); skipped where mounting is not allowed.
#include <gtest/gtest.h>

#include <string>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "tests/buffer/buffer_test_util.h"
#include "tests/tmpfs_test_util.h"

namespace stride::test {

namespace {

// Puts groups of 16 KiB samples until the buffer refuses one; throws what the client threw.
void fill_until_refused(const std::string& db) {
    BufferServerConfig cfg = test_config(db, 2);
    cfg.sync_wal = true;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    for (int i = 0; i < 1000; ++i) client.put(make_groups(numbered("big", i), 1, 2, 0, 4096));
}

}  // namespace

TEST(BufferStorageFaults, AFullDiskRefusesThePutAndAReopenIsAnErrorNotAnAbort) {
    TempDir dir("buf-enospc");
    const std::string mnt = dir.sub("mnt"), result = dir.sub("result.txt");
    std::string reopened = "(not reached)";
    if (!run_on_tmpfs(mnt, "1m", false, result, [&] {
            try {
                fill_until_refused(mnt + "/db");
            } catch (const BufferRejected& e) {
                // The refusal, then a buffer opened again on the still-full disk: served or refused.
                reopened = "OK";
                try {
                    BufferServer again(test_config(mnt + "/db", 2));
                } catch (const Error& e2) {
                    reopened = e2.what();
                }
                throw Error(std::string(e.what()) + "\nreopen: " + reopened);
            }
        }))
        GTEST_SKIP() << "no mount namespace with tmpfs here (needs CAP_SYS_ADMIN)";
    const std::string err = slurp_file(result);
    ASSERT_FALSE(err.empty()) << "the child died (an abort?) instead of reporting";
    EXPECT_NE(err.find("INTERNAL"), std::string::npos) << err;
    EXPECT_NE(err.find("No space left"), std::string::npos) << err;
    // Reopening is either fine or an error naming the store; anything but an abort.
    const std::string reopen = err.substr(err.find("reopen: ") + 8);
    EXPECT_TRUE(reopen == "OK" || reopen.find(mnt + "/db") != std::string::npos) << reopen;
}

TEST(BufferStorageFaults, AReadOnlyDirectoryIsAnErrorNamingIt) {
    TempDir dir("buf-erofs");
    const std::string mnt = dir.sub("mnt"), result = dir.sub("result.txt");
    if (!run_on_tmpfs(mnt, "1m", true, result, [&] { BufferServer server(test_config(mnt + "/db", 2)); }))
        GTEST_SKIP() << "no mount namespace with tmpfs here (needs CAP_SYS_ADMIN)";
    const std::string err = slurp_file(result);
    ASSERT_FALSE(err.empty()) << "the child died (an abort?) instead of reporting";
    EXPECT_NE(err.find(mnt + "/db"), std::string::npos) << err;
    EXPECT_NE(err.find("Read-only"), std::string::npos) << err;
}

}  // namespace stride::test
