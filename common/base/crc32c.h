// CRC-32C (Castagnoli), hardware-accelerated with SSE4.2 where the CPU has it. Used to checksum
// weight transfers: fast enough (> 10 GB/s) that checking every byte costs little next to the copy.
#pragma once
#include <cstddef>
#include <cstdint>

namespace stride {

// Extends crc (0 for a new checksum) with n bytes.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

// Copies n bytes from src to dst and returns their CRC-32C, in one pass over the memory (a received
// chunk is checked while it is copied to its place, instead of being read twice).
uint32_t crc32c_copy(void* dst, const void* src, size_t n, uint32_t crc = 0);

}  // namespace stride
