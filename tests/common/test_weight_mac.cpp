// The keyed hash on the same-host weight path (issue #20): a local process that rewrites the memory
// file of a published version, fixing up its CRC-32C so the old check passes, is refused by a worker
// with the job's keys; the same forgery goes through a job without keys (which is why the hash exists).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <random>
#include <string>

#include "common/base/crc32c.h"
#include "common/base/error.h"
#include "common/weight_mac.h"
#include "common/weight_sync.h"

namespace stride {
namespace {

constexpr size_t kBlobBytes = 4096;
constexpr size_t kPatchAt = 100;  // where the forger puts the 4 bytes that fix up the CRC

WeightBlob random_blob(int64_t version) {
    WeightBlob b;
    b.version = version;
    b.bytes.resize(kBlobBytes);
    std::mt19937_64 rng(7);
    for (auto& c : b.bytes) c = static_cast<char>(rng());
    return b;
}

// CRC-32C is affine over GF(2): crc(a ^ b) = crc(a) ^ crc(b) ^ crc(0) for equal lengths. So flipping
// bits anywhere can be undone, as far as the CRC sees, by a 32-bit patch at kPatchAt: solve
// L(patch) = delta, where L(x) = crc(x at kPatchAt, zeros elsewhere) ^ crc(zeros).
std::array<uint8_t, 4> crc_fixup(uint32_t delta) {
    std::vector<char> zeros(kBlobBytes, 0);
    const uint32_t base = crc32c(zeros.data(), zeros.size());
    std::array<uint32_t, 32> column{};  // L(e_i)
    for (int i = 0; i < 32; ++i) {
        std::vector<char> z(kBlobBytes, 0);
        z[kPatchAt + i / 8] = static_cast<char>(1u << (i % 8));
        column[i] = crc32c(z.data(), z.size()) ^ base;
    }
    // Gaussian elimination on the 32 x 32 system, rows = bits of the CRC.
    std::array<uint64_t, 32> row{};  // low 32 bits: coefficients of x_i; bit 32: right-hand side
    for (int r = 0; r < 32; ++r) {
        for (int i = 0; i < 32; ++i) row[r] |= static_cast<uint64_t>((column[i] >> r) & 1u) << i;
        row[r] |= static_cast<uint64_t>((delta >> r) & 1u) << 32;
    }
    for (int c = 0, r = 0; c < 32; ++c) {
        int pivot = r;
        while (pivot < 32 && !((row[pivot] >> c) & 1)) ++pivot;
        if (pivot == 32) continue;
        std::swap(row[r], row[pivot]);
        for (int k = 0; k < 32; ++k)
            if (k != r && ((row[k] >> c) & 1)) row[k] ^= row[r];
        ++r;
    }
    uint32_t x = 0;
    for (int r = 0; r < 32; ++r)
        for (int c = 0; c < 32; ++c)
            if (row[r] & (1ull << c)) {
                if ((row[r] >> 32) & 1) x |= 1u << c;
                break;
            }
    return {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x >> 16),
            static_cast<uint8_t>(x >> 24)};
}

// What the local attacker does: opens the publisher's memory file through /proc, flips the first
// byte and patches 4 bytes so the whole-blob CRC-32C is unchanged. Returns the bytes now in the file.
std::vector<char> forge(const std::string& shm_path, uint32_t crc) {
    const int fd = ::open(shm_path.c_str(), O_RDWR);
    EXPECT_GE(fd, 0) << shm_path;
    std::vector<char> bytes(kBlobBytes);
    EXPECT_EQ(::pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    bytes[0] = static_cast<char>(bytes[0] ^ 0x5a);
    const uint32_t delta = crc32c(bytes.data(), bytes.size()) ^ crc;
    const std::array<uint8_t, 4> fix = crc_fixup(delta);
    for (int i = 0; i < 4; ++i) bytes[kPatchAt + i] = static_cast<char>(bytes[kPatchAt + i] ^ fix[i]);
    EXPECT_EQ(crc32c(bytes.data(), bytes.size()), crc) << "the forgery must keep the CRC";
    EXPECT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    return bytes;
}

TEST(WeightMac, KeyedAndBoundToTheVersion) {
    const CurveKeys keys = generate_curve_keys();
    const std::string key = weight_mac_key(keys);
    ASSERT_EQ(key.size(), 32u);
    EXPECT_EQ(key, weight_mac_key(keys));
    EXPECT_NE(key, weight_mac_key(generate_curve_keys()));
    const std::string data = "weights";
    const std::string mac = weight_mac(key, 3, data.data(), data.size());
    EXPECT_TRUE(weight_mac_equal(mac, weight_mac(key, 3, data.data(), data.size())));
    EXPECT_FALSE(weight_mac_equal(mac, weight_mac(key, 4, data.data(), data.size())));  // another version
    EXPECT_FALSE(weight_mac_equal(
        mac, weight_mac(weight_mac_key(generate_curve_keys()), 3, data.data(), data.size())));
    EXPECT_FALSE(weight_mac_equal(mac, ""));
}

TEST(WeightMac, ATamperedMemoryFileIsRefusedWithTheJobsKeys) {
    auto keys = std::make_shared<const CurveKeys>(generate_curve_keys());
    WeightPublisher pub("job-m", "tcp://127.0.0.1:*", 1024, /*share_memory=*/true, keys);
    pub.publish(random_blob(1));
    WeightSubscriber sub("job-m", pub.endpoint(), 4, /*use_shared_memory=*/true, keys);
    auto update = sub.latest(5000);
    ASSERT_TRUE(update.has_value());
    ASSERT_FALSE(update->shm_path().empty());
    EXPECT_EQ(update->shm_mac().size(), 32u);

    // Untouched, the memory file is taken (and checks out).
    WeightFetchStats stats;
    auto good = sub.fetch_if_newer(0, 5000, &stats);
    ASSERT_TRUE(good.has_value());
    EXPECT_TRUE(stats.shared_memory);
    EXPECT_EQ(good->bytes, random_blob(1).bytes);

    forge(update->shm_path(), update->crc32());
    try {
        sub.fetch_if_newer(0, 5000);
        FAIL() << "a rewritten memory file was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("does not match the publisher's keyed hash"), std::string::npos)
            << e.what();
    }
}

TEST(WeightMac, WithoutKeysTheSameForgeryPassesTheCrc) {
    WeightPublisher pub("job-p", "tcp://127.0.0.1:*", 1024, /*share_memory=*/true);
    pub.publish(random_blob(1));
    WeightSubscriber sub("job-p", pub.endpoint(), 4, /*use_shared_memory=*/true);
    auto update = sub.latest(5000);
    ASSERT_TRUE(update.has_value());
    EXPECT_TRUE(update->shm_mac().empty());
    const std::vector<char> forged = forge(update->shm_path(), update->crc32());
    auto got = sub.fetch_if_newer(0, 5000);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes, forged);  // CRC-32C alone cannot tell
    EXPECT_NE(got->bytes, random_blob(1).bytes);
}

}  // namespace
}  // namespace stride
