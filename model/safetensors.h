// safetensors files: reader (mmap + a header validated like the reference Rust implementation) and
// writer (the exact byte layout `safetensors.torch.save_file` produces).
//
// File = u64 N (little-endian) | N bytes of JSON header | data buffer. The header maps tensor names to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data buffer, end exclusive)
// plus an optional "__metadata__" string->string map. Every check failure is a stride::Error
// "<file>: <tensor>: <problem>" (or "<file>: <problem>" when no tensor is at fault).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stride {

struct SafetensorsTensor {
    std::string name;
    std::string dtype;            // as written in the header: "F32", "BF16", "F16", "I64", ...
    std::vector<int64_t> shape;   // C order; [] is a scalar
    uint64_t numel = 0;           // product of shape
    uint64_t begin = 0, end = 0;  // byte span in the data buffer
};

// Size in bits of one element of a safetensors dtype, or 0 for an unknown dtype string.
int safetensors_dtype_bits(const std::string& dtype);

// Parsed and validated header. `file_size` is the size of the whole file (header included).
struct SafetensorsHeader {
    std::vector<SafetensorsTensor> tensors;  // sorted by data offset (= file order)
    std::map<std::string, std::string> metadata;
    uint64_t data_start = 0;  // 8 + N
};

// Validates the first bytes of a file. `bytes` may hold just the start of the file as long as it
// covers 8 + N; `file_size` is the size of the whole file. `source` names the file in errors.
SafetensorsHeader safetensors_parse_header(const uint8_t* bytes, size_t size, uint64_t file_size,
                                           const std::string& source);

// Converts the bytes of an F32, BF16 or F16 tensor (t.end - t.begin of them at `bytes`) into t.numel
// floats; any other dtype is an error "<source>: <tensor>: unsupported dtype ...".
void safetensors_convert_f32(const SafetensorsTensor& t, const uint8_t* bytes, float* out,
                             const std::string& source);

// A read-only safetensors file mapped into memory. Move-only; unmaps on destruction.
class SafetensorsFile {
   public:
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(SafetensorsFile&& o) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) = delete;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<SafetensorsTensor>& tensors() const { return header_.tensors; }
    const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
    const SafetensorsTensor* find(const std::string& name) const;  // null when absent

    // The raw little-endian bytes of a tensor (t.end - t.begin of them).
    const uint8_t* bytes(const SafetensorsTensor& t) const { return base_ + header_.data_start + t.begin; }
    // Converts an F32, BF16 or F16 tensor into t.numel floats; other dtypes are an error naming it.
    void read_f32(const SafetensorsTensor& t, float* out) const;

   private:
    std::string path_;
    const uint8_t* base_ = nullptr;  // whole file, or null for an empty mapping
    size_t size_ = 0;
    SafetensorsHeader header_;
};

// One tensor to write. Either `f32` (converted to `dtype`, which must be F32, BF16 or F16) or `raw`
// (numel * dtype size bytes written as they are, for any dtype).
struct SafetensorsEntry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    const float* f32 = nullptr;
    const void* raw = nullptr;
};

// Writes `path` the way safetensors' Python writer does: tensors sorted by descending dtype (so every
// tensor is aligned to its element size), then by name; compact JSON header with "__metadata__"
// first, space-padded to a multiple of 8. Same entries -> same bytes. Writes `path` directly: callers
// that need atomicity write to a temporary name and rename (see checkpoint.cpp).
void safetensors_write(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Bytes in the data buffer of one entry (numel * element size).
uint64_t safetensors_entry_bytes(const SafetensorsEntry& e);

}  // namespace stride
