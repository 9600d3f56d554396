// The Thrift compact protocol, read side only: what Parquet's footer and page headers are written in.
// Every read is checked against the end of the buffer and containers against the bytes left, so
// malformed input throws an Error (prefixed by `what`) instead of reading or allocating past it.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/base/error.h"

namespace stride::parquet {

enum ThriftType : uint8_t {
    kTStop = 0,
    kTTrue = 1,
    kTFalse = 2,
    kTByte = 3,
    kTI16 = 4,
    kTI32 = 5,
    kTI64 = 6,
    kTDouble = 7,
    kTBinary = 8,
    kTList = 9,
    kTSet = 10,
    kTMap = 11,
    kTStruct = 12,
};

class ThriftReader {
   public:
    struct Field {
        int16_t id = 0;
        uint8_t type = kTStop;
    };

    ThriftReader(const uint8_t* data, size_t size, std::string what)
        : p_(data), begin_(data), end_(data + size), what_(std::move(what)) {}

    size_t consumed() const { return static_cast<size_t>(p_ - begin_); }
    size_t left() const { return static_cast<size_t>(end_ - p_); }

    [[noreturn]] void fail(const std::string& why) const {
        throw Error(what_ + ": " + why + " (at byte " + std::to_string(consumed()) + ")");
    }

    // The next field of the struct being read; false at its STOP. `last` is the previous field id
    // of this struct (0 at its start), updated here.
    bool next_field(int16_t& last, Field& f) {
        uint8_t b = byte();
        if (b == kTStop) return false;
        f.type = b & 0x0f;
        uint8_t delta = b >> 4;
        f.id = delta ? static_cast<int16_t>(last + delta) : static_cast<int16_t>(zigzag(varint(), 16));
        last = f.id;
        return true;
    }

    int64_t read_int(const Field& f) {
        switch (f.type) {
            case kTByte:
                return static_cast<int8_t>(byte());
            case kTI16:
                return zigzag(varint(), 16);
            case kTI32:
                return zigzag(varint(), 32);
            case kTI64:
                return zigzag(varint(), 64);
            default:
                fail("field " + std::to_string(f.id) + " should be an integer");
        }
    }
    int32_t read_i32(const Field& f) {
        int64_t v = read_int(f);
        if (v < INT32_MIN || v > INT32_MAX) fail("field " + std::to_string(f.id) + " is out of range");
        return static_cast<int32_t>(v);
    }
    bool read_bool(const Field& f) {
        if (f.type == kTTrue) return true;
        if (f.type == kTFalse) return false;
        fail("field " + std::to_string(f.id) + " should be a boolean");
    }
    std::string_view read_binary(const Field& f) {
        if (f.type != kTBinary) fail("field " + std::to_string(f.id) + " should be a string");
        return binary();
    }
    // A list's element type and size; the size is checked against the bytes left (an element takes
    // at least one byte).
    uint32_t read_list(const Field& f, uint8_t& elem_type) {
        if (f.type != kTList && f.type != kTSet) fail("field " + std::to_string(f.id) + " should be a list");
        uint8_t b = byte();
        elem_type = b & 0x0f;
        uint64_t n = b >> 4;
        if (n == 15) n = varint();
        if (n > left()) fail("a list of " + std::to_string(n) + " elements is longer than the data");
        return static_cast<uint32_t>(n);
    }
    // An integer element of a list of the given element type.
    int64_t read_int_elem(uint8_t elem_type) { return read_int(Field{0, elem_type}); }
    std::string_view read_binary_elem(uint8_t elem_type) { return read_binary(Field{0, elem_type}); }
    void expect_struct(const Field& f) {
        if (f.type != kTStruct) fail("field " + std::to_string(f.id) + " should be a struct");
    }
    void expect_struct_elem(uint8_t elem_type) {
        if (elem_type != kTStruct) fail("list elements should be structs");
    }

    void skip(uint8_t type, int depth = 0) {
        if (depth > 64) fail("nesting deeper than 64");
        switch (type) {
            case kTTrue:
            case kTFalse:
                return;
            case kTByte:
                byte();
                return;
            case kTI16:
            case kTI32:
            case kTI64:
                varint();
                return;
            case kTDouble:
                need(8);
                p_ += 8;
                return;
            case kTBinary:
                binary();
                return;
            case kTList:
            case kTSet: {
                uint8_t et;
                uint32_t n = read_list(Field{0, type}, et);
                for (uint32_t i = 0; i < n; ++i) {
                    if (et == kTTrue || et == kTFalse)
                        byte();  // booleans in containers are one byte each
                    else
                        skip(et, depth + 1);
                }
                return;
            }
            case kTMap: {
                uint64_t n = varint();
                if (n == 0) return;
                if (n > left()) fail("a map longer than the data");
                uint8_t kv = byte();
                for (uint64_t i = 0; i < n; ++i) {
                    skip_elem(kv >> 4, depth + 1);
                    skip_elem(kv & 0x0f, depth + 1);
                }
                return;
            }
            case kTStruct: {
                int16_t last = 0;
                Field f;
                while (next_field(last, f)) skip(f.type, depth + 1);
                return;
            }
            default:
                fail("unknown Thrift type " + std::to_string(type));
        }
    }

   private:
    void skip_elem(uint8_t type, int depth) {
        if (type == kTTrue || type == kTFalse)
            byte();
        else
            skip(type, depth);
    }
    void need(size_t n) {
        if (left() < n) fail("truncated");
    }
    uint8_t byte() {
        need(1);
        return *p_++;
    }
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            uint8_t b = byte();
            if (shift == 63 && (b & 0x7e)) fail("varint overflows 64 bits");
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("varint longer than 10 bytes");
    }
    int64_t zigzag(uint64_t v, int bits) {
        int64_t r = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
        if (bits < 64) {
            int64_t lim = int64_t{1} << (bits - 1);
            if (r < -lim || r >= lim) fail("integer does not fit " + std::to_string(bits) + " bits");
        }
        return r;
    }
    std::string_view binary() {
        uint64_t n = varint();
        if (n > left()) fail("a string of " + std::to_string(n) + " bytes is longer than the data");
        std::string_view s(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        return s;
    }

    const uint8_t* p_;
    const uint8_t* begin_;
    const uint8_t* end_;
    std::string what_;
};

}  // namespace stride::parquet
