// safetensors reader and writer. The checks follow huggingface/safetensors `SafeTensors::read_metadata`
// and `Metadata::validate` one for one, each with its own message, plus a duplicate-key check that
// serde does not do (the spec forbids duplicates; a silent "last one wins" hides a broken exporter).
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/base/error.h"
#include "model/dtype.h"
#include "model/json_brief.h"

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace stride {

using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE

// Dtypes in the order of the reference's `Dtype` enum: the writer sorts by it (descending), which puts
// wider types first so that every tensor starts aligned to its element size.
struct DtypeInfo {
    const char* name;
    int bits;
};
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 8},    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},   {"I8", 8},    {"F8_E5M2", 8},
    {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16}, {"BF16", 16}, {"I32", 32},
    {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},    {"I64", 64}, {"U64", 64},
};

int dtype_rank(const std::string& dtype) {
    for (size_t i = 0; i < std::size(kDtypes); ++i)
        if (dtype == kDtypes[i].name) return static_cast<int>(i);
    return -1;
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// Strict UTF-8 (what Rust's str::from_utf8 accepts): no overlong forms, no surrogates, <= U+10FFFF.
// Returns the offset of the first bad byte, or n when all is valid.
size_t utf8_first_invalid(const uint8_t* s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c == 0xe0)
            len = 3, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xec)
            len = 3;
        else if (c == 0xed)
            len = 3, hi = 0x9f;  // no UTF-16 surrogates
        else if (c >= 0xee && c <= 0xef)
            len = 3;
        else if (c == 0xf0)
            len = 4, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            len = 4;
        else if (c == 0xf4)
            len = 4, hi = 0x8f;  // <= U+10FFFF
        else
            return i;
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += len;
    }
    return n;
}

// Parses the header JSON, remembering the first key that occurs twice in one object (as a dotted path,
// e.g. "model.norm.weight.dtype" for a tensor entry with two "dtype" fields).
json parse_header_json(const char* text, size_t n, const std::string& src) {
    struct OpenObject {
        std::set<std::string> keys;
        std::string current_key;
    };
    std::vector<OpenObject> open_objects;
    std::string duplicate;
    auto on_event = [&](int /*depth*/, json::parse_event_t ev, json& parsed) {
        if (ev == json::parse_event_t::object_start) {
            open_objects.emplace_back();
        } else if (ev == json::parse_event_t::object_end) {
            if (!open_objects.empty()) open_objects.pop_back();
        } else if (ev == json::parse_event_t::key && !open_objects.empty()) {
            const std::string& key = parsed.get_ref<const std::string&>();
            open_objects.back().current_key = key;
            if (!open_objects.back().keys.insert(key).second && duplicate.empty()) {
                for (size_t i = 0; i + 1 < open_objects.size(); ++i)
                    duplicate += open_objects[i].current_key + ".";
                duplicate += key;
            }
        }
        return true;
    };
    json j;
    try {
        j = json::parse(text, text + n, on_event);
    } catch (const json::exception& e) {
        throw Error(src + ": header is not valid JSON: " + e.what());
    }
    if (!duplicate.empty()) throw Error(src + ": " + duplicate + ": key appears twice in the header");
    return j;
}

SafetensorsTensor parse_tensor_entry(const std::string& name, const json& v, const std::string& src) {
    auto fail = [&](const std::string& what) { throw Error(src + ": " + name + ": " + what); };
    if (!v.is_object()) fail("expected an object with dtype, shape and data_offsets, got " + json_brief(v));
    SafetensorsTensor t;
    t.name = name;

    auto dt = v.find("dtype");
    if (dt == v.end()) fail("missing \"dtype\"");
    if (!dt->is_string()) fail("dtype must be a string, got " + json_brief(*dt));
    t.dtype = dt->get<std::string>();
    const int bits = safetensors_dtype_bits(t.dtype);
    if (bits == 0) fail("unknown dtype '" + t.dtype + "'");

    auto sh = v.find("shape");
    if (sh == v.end()) fail("missing \"shape\"");
    if (!sh->is_array()) fail("shape must be a list of non-negative integers, got " + json_brief(*sh));
    uint64_t numel = 1;
    for (const json& d : *sh) {
        if (d.is_number_integer() && !d.is_number_unsigned())
            fail("shape " + json_brief(*sh) + " has a negative dimension");
        if (!d.is_number_unsigned())
            fail("shape must be a list of non-negative integers, got " + json_brief(*sh));
        const uint64_t x = d.get<uint64_t>();
        if (x > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, x, &numel))
            fail("shape " + json_brief(*sh) + " overflows: its element count does not fit in 64 bits");
        t.shape.push_back(static_cast<int64_t>(x));
    }
    t.numel = numel;

    auto off = v.find("data_offsets");
    if (off == v.end()) fail("missing \"data_offsets\"");
    if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
        fail("data_offsets must be [begin, end] with non-negative integers, got " + json_brief(*off));
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    return t;
}

}  // namespace

int safetensors_dtype_bits(const std::string& dtype) {
    const int r = dtype_rank(dtype);
    return r < 0 ? 0 : kDtypes[r].bits;
}

SafetensorsHeader safetensors_parse_header(const uint8_t* bytes, size_t size, uint64_t file_size,
                                           const std::string& src) {
    auto fail = [&](const std::string& what) { throw Error(src + ": " + what); };
    if (file_size < 8 || size < 8)
        fail("file is " + std::to_string(file_size) + " bytes, too small for the 8-byte header length");
    uint64_t n = 0;
    std::memcpy(&n, bytes, 8);
    if (n > kMaxHeaderBytes)
        fail("header length " + std::to_string(n) + " exceeds the 100 MB limit (corrupt length prefix?)");
    if (8 + n > file_size)
        fail("header length " + std::to_string(n) + " goes beyond the end of the file (" +
             std::to_string(file_size) + " bytes)");
    if (8 + n > size) fail("internal: header bytes not provided");
    const uint8_t* h = bytes + 8;
    const size_t bad = utf8_first_invalid(h, n);
    if (bad != n) fail("header is not valid UTF-8 (bad byte at header offset " + std::to_string(bad) + ")");
    if (n == 0 || h[0] != '{') fail("header does not start with '{'");

    const json j = parse_header_json(reinterpret_cast<const char*>(h), n, src);
    if (!j.is_object()) fail("header is not a JSON object");

    SafetensorsHeader out;
    out.data_start = 8 + n;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "__metadata__") {
            const json& m = it.value();
            if (m.is_null()) continue;
            if (!m.is_object()) fail("__metadata__: expected an object of strings, got " + json_brief(m));
            for (auto kv = m.begin(); kv != m.end(); ++kv) {
                if (!kv->is_string())
                    fail("__metadata__: value of '" + kv.key() + "' is not a string: " + json_brief(*kv));
                out.metadata[kv.key()] = kv->get<std::string>();
            }
            continue;
        }
        out.tensors.push_back(parse_tensor_entry(it.key(), it.value(), src));
    }

    // Sorted by (begin, end) the tensors must tile the data buffer: each starts where the previous ends.
    std::sort(out.tensors.begin(), out.tensors.end(),
              [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
                  if (a.begin != b.begin) return a.begin < b.begin;
                  if (a.end != b.end) return a.end < b.end;
                  return a.name < b.name;
              });
    const uint64_t buffer_len = file_size - out.data_start;
    uint64_t prev_end = 0;
    std::string prev_name;
    for (const SafetensorsTensor& t : out.tensors) {
        auto tfail = [&](const std::string& what) { throw Error(src + ": " + t.name + ": " + what); };
        const std::string span =
            "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
        if (t.end < t.begin) tfail(span + ": end is before begin");
        if (t.begin > prev_end)
            tfail(span + " leave a gap of " + std::to_string(t.begin - prev_end) + " bytes " +
                  (prev_name.empty() ? std::string("at the start of the data buffer")
                                     : "after tensor " + prev_name));
        if (t.begin < prev_end)
            tfail(span + " overlap tensor " + prev_name + " (which ends at " + std::to_string(prev_end) +
                  ")");
        if (t.end > buffer_len)
            tfail(span + " extend past the end of the data buffer (" + std::to_string(buffer_len) +
                  " bytes; file truncated?)");
        const int bits = safetensors_dtype_bits(t.dtype);
        uint64_t nbits = 0;
        if (__builtin_mul_overflow(t.numel, static_cast<uint64_t>(bits), &nbits))
            tfail("shape " + shape_str(t.shape) + " of " + t.dtype +
                  " overflows: its size in bytes does not fit in 64 bits");
        if (nbits % 8 != 0)
            tfail("shape " + shape_str(t.shape) + " of " + t.dtype + " is not a whole number of bytes");
        if (t.end - t.begin != nbits / 8)
            tfail(span + " hold " + std::to_string(t.end - t.begin) + " bytes but shape " +
                  shape_str(t.shape) + " of " + t.dtype + " needs " + std::to_string(nbits / 8));
        prev_end = t.end;
        prev_name = t.name;
    }
    if (prev_end != buffer_len)
        fail("data buffer is " + std::to_string(buffer_len) + " bytes but the tensors cover only " +
             std::to_string(prev_end) + " (" + std::to_string(buffer_len - prev_end) + " trailing bytes)");
    return out;
}

// ---- reader ------------------------------------------------------------------------------------

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error(path + ": cannot mmap: " + std::strerror(err));
        }
        base_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    try {
        header_ = safetensors_parse_header(base_, size_, size_, path);
    } catch (...) {
        if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
        throw;
    }
}

SafetensorsFile::~SafetensorsFile() {
    if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)), base_(o.base_), size_(o.size_), header_(std::move(o.header_)) {
    o.base_ = nullptr;
    o.size_ = 0;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
    for (const SafetensorsTensor& t : header_.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

void SafetensorsFile::read_f32(const SafetensorsTensor& t, float* out) const {
    safetensors_convert_f32(t, bytes(t), out, path_);
}

void safetensors_convert_f32(const SafetensorsTensor& t, const uint8_t* src, float* out,
                             const std::string& source) {
    const uint64_t n = t.numel;
    // memcpy per element: the header does not promise alignment, so no reinterpret_cast of the mapping.
    if (t.dtype == "F32") {
        if (n) std::memcpy(out, src, n * 4);
    } else if (t.dtype == "BF16") {
        for (uint64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            out[i] = bf16_to_f32(h);
        }
    } else if (t.dtype == "F16") {
        for (uint64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            out[i] = f16_to_f32(h);
        }
    } else {
        throw Error(source + ": " + t.name + ": unsupported dtype " + t.dtype +
                    " (expected F32, BF16 or F16)");
    }
}

// ---- writer ------------------------------------------------------------------------------------

uint64_t safetensors_entry_bytes(const SafetensorsEntry& e) {
    uint64_t n = 1;
    for (int64_t d : e.shape) {
        STRIDE_CHECK(d >= 0, e.name + ": negative dimension in shape " + shape_str(e.shape));
        STRIDE_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n), e.name + ": shape overflows");
    }
    const int bits = safetensors_dtype_bits(e.dtype);
    STRIDE_CHECK(bits > 0, e.name + ": unknown dtype '" + e.dtype + "'");
    STRIDE_CHECK((n * bits) % 8 == 0, e.name + ": size is not a whole number of bytes");
    return n * bits / 8;
}

namespace {

struct FileCloser {
    FILE* f;
    ~FileCloser() {
        if (f) std::fclose(f);
    }
};

// Converts floats to the on-disk dtype in chunks, so a multi-GB tensor needs no second full copy.
void write_converted(FILE* f, const float* x, uint64_t n, const std::string& dtype, const std::string& path) {
    constexpr uint64_t kChunk = 1 << 16;
    std::vector<uint16_t> buf(kChunk);
    for (uint64_t i = 0; i < n; i += kChunk) {
        const uint64_t m = std::min(kChunk, n - i);
        if (dtype == "BF16")
            for (uint64_t k = 0; k < m; ++k) buf[k] = f32_to_bf16(x[i + k]);
        else
            for (uint64_t k = 0; k < m; ++k) buf[k] = f32_to_f16(x[i + k]);
        if (std::fwrite(buf.data(), 2, m, f) != m)
            throw Error(path + ": write failed: " + std::strerror(errno));
    }
}

}  // namespace

void safetensors_write(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<const SafetensorsEntry*> order;
    std::set<std::string> names;
    for (const SafetensorsEntry& e : entries) {
        STRIDE_CHECK(e.name != "__metadata__", path + ": '__metadata__' is not a valid tensor name");
        STRIDE_CHECK(utf8_first_invalid(reinterpret_cast<const uint8_t*>(e.name.data()), e.name.size()) ==
                         e.name.size(),
                     path + ": tensor name is not valid UTF-8: " + e.name);
        STRIDE_CHECK(names.insert(e.name).second, path + ": " + e.name + ": tensor written twice");
        STRIDE_CHECK(safetensors_dtype_bits(e.dtype) > 0,
                     path + ": " + e.name + ": unknown dtype '" + e.dtype + "'");
        STRIDE_CHECK((e.f32 != nullptr) != (e.raw != nullptr),
                     path + ": " + e.name + ": give exactly one of f32 or raw data");
        STRIDE_CHECK(!e.f32 || e.dtype == "F32" || e.dtype == "BF16" || e.dtype == "F16",
                     path + ": " + e.name + ": cannot convert floats to " + e.dtype);
        order.push_back(&e);
    }
    std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
        const int ra = dtype_rank(a->dtype), rb = dtype_rank(b->dtype);
        if (ra != rb) return ra > rb;
        return a->name < b->name;
    });

    // The header exactly as serde_json writes it: compact, "__metadata__" first, then the tensors in
    // data order with fields dtype, shape, data_offsets.
    std::string header = "{";
    if (!metadata.empty()) header += "\"__metadata__\":" + json(metadata).dump();
    uint64_t offset = 0;
    for (const SafetensorsEntry* e : order) {
        const uint64_t nbytes = safetensors_entry_bytes(*e);
        if (header.size() > 1) header += ",";
        header += json(e->name).dump() + ":{\"dtype\":\"" + e->dtype + "\",\"shape\":[";
        for (size_t i = 0; i < e->shape.size(); ++i) {
            if (i) header += ',';
            header += std::to_string(e->shape[i]);
        }
        header +=
            "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
        offset += nbytes;
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-aligned

    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw Error(path + ": cannot write: " + std::strerror(errno));
    FileCloser closer{f};
    const uint64_t n = header.size();
    bool ok = std::fwrite(&n, 8, 1, f) == 1 && std::fwrite(header.data(), 1, n, f) == n;
    if (!ok) throw Error(path + ": write failed: " + std::strerror(errno));
    for (const SafetensorsEntry* e : order) {
        const uint64_t nbytes = safetensors_entry_bytes(*e);
        if (e->raw || e->dtype == "F32") {
            const void* src = e->raw ? e->raw : static_cast<const void*>(e->f32);
            if (nbytes && std::fwrite(src, 1, nbytes, f) != nbytes)
                throw Error(path + ": write failed: " + std::strerror(errno));
        } else {
            write_converted(f, e->f32, nbytes / 2, e->dtype, path);
        }
    }
    // Flush to the disk before the caller renames the file into place, so a crash after the rename
    // cannot expose a file whose blocks never made it.
    if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0)
        throw Error(path + ": write failed: " + std::strerror(errno));
    closer.f = nullptr;
    if (std::fclose(f) != 0) throw Error(path + ": write failed: " + std::strerror(errno));
}

}  // namespace stride
