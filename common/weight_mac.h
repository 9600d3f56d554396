// common/weight_mac.h: the keyed hash of a weight version on the same-host memory-file path (issue #20).
// CRC-32C catches accidents, not a process that rewrites the memory file and fixes up the checksum;
// a keyed BLAKE2b-256 (libsodium's crypto_generichash) under a key derived from the job's CURVE keys
// cannot be recomputed without them. The publisher sends it in WeightUpdate.shm_mac over the
// authenticated socket; the subscriber recomputes it over what it copied and refuses a mismatch.
// Tested by tests/common/test_weight_mac.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/curve_keys.h"

namespace stride {

// A 32-byte key for weight hashes, derived from the key set's server secret (never the secret itself).
std::string weight_mac_key(const CurveKeys& keys);

// BLAKE2b-256 keyed with `key` over the version (8 bytes, little-endian) and the bytes: 32 raw bytes.
std::string weight_mac(const std::string& key, int64_t version, const char* bytes, size_t size);

// Constant-time comparison of two hashes of weight_mac's size.
bool weight_mac_equal(const std::string& a, const std::string& b);

}  // namespace stride
