// common/weight_mac.cpp: see weight_mac.h.
#include "common/weight_mac.h"

#include <sodium.h>
#include <zmq.h>

#include "common/base/error.h"

namespace stride {

namespace {

constexpr size_t kMacBytes = 32;

void ensure_sodium() {
    STRIDE_CHECK(sodium_init() >= 0, "libsodium: sodium_init failed");
}

}  // namespace

std::string weight_mac_key(const CurveKeys& keys) {
    ensure_sodium();
    uint8_t secret[32];
    STRIDE_CHECK(zmq_z85_decode(secret, keys.server_secret.c_str()) != nullptr,
                 "weight hash: bad server secret");
    // A key of its own for this use: BLAKE2b keyed with the secret over a fixed label.
    static const char kLabel[] = "stride weight memory-file hash v1";
    std::string key(kMacBytes, '\0');
    crypto_generichash(reinterpret_cast<uint8_t*>(key.data()), key.size(),
                       reinterpret_cast<const uint8_t*>(kLabel), sizeof(kLabel) - 1, secret, sizeof(secret));
    sodium_memzero(secret, sizeof(secret));
    return key;
}

std::string weight_mac(const std::string& key, int64_t version, const char* bytes, size_t size) {
    ensure_sodium();
    STRIDE_CHECK(key.size() == kMacBytes, "weight hash: the key must be 32 bytes");
    crypto_generichash_state st;
    crypto_generichash_init(&st, reinterpret_cast<const uint8_t*>(key.data()), key.size(), kMacBytes);
    uint8_t v[8];
    for (int i = 0; i < 8; ++i) v[i] = static_cast<uint8_t>(static_cast<uint64_t>(version) >> (8 * i));
    crypto_generichash_update(&st, v, sizeof(v));
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(bytes), size);
    std::string mac(kMacBytes, '\0');
    crypto_generichash_final(&st, reinterpret_cast<uint8_t*>(mac.data()), mac.size());
    return mac;
}

bool weight_mac_equal(const std::string& a, const std::string& b) {
    return a.size() == kMacBytes && b.size() == kMacBytes &&
           sodium_memcmp(a.data(), b.data(), kMacBytes) == 0;
}

}  // namespace stride
