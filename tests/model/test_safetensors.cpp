// safetensors reader/writer and the bf16/f16 conversions: torch-exact rounding, byte-exact writer
// output, every header check with its own message, and a cross-check with a plain-torch reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/base/error.h"
#include "model/dtype.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;
using namespace stride;

namespace {

// A fresh directory under /tmp per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
   protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = "/tmp/stride_st_" + std::to_string(::getpid()) + "_" + info->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }
    std::string dir_;
};

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// A file from a header text and a data buffer; `declared_len` overrides the length prefix.
std::string make_file(const std::string& header, const std::string& data, int64_t declared_len = -1) {
    const uint64_t n = declared_len < 0 ? header.size() : static_cast<uint64_t>(declared_len);
    std::string out(8, '\0');
    std::memcpy(out.data(), &n, 8);
    return out + header + data;
}

// Expects opening `file` to throw an Error whose message contains the file and every fragment.
void expect_open_error(const std::string& file, const std::vector<std::string>& fragments) {
    try {
        SafetensorsFile f(file);
        FAIL() << "expected an error for " << file;
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(file), std::string::npos) << msg;
        for (const std::string& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << msg;
    }
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = ::pclose(p);
    if (rc != 0) return "FAILED rc=" + std::to_string(rc) + "\n" + out;
    return out;
}

// Whether a Python helper's output says torch is not installed (the test then skips). There is no
// separate `import torch` probe because the import alone costs seconds.
bool torch_missing(const std::string& output) {
    return output.find("No module named 'torch'") != std::string::npos ||
           output.find("/usr/bin/python3: not found") != std::string::npos;
}

}  // namespace

// ---- conversions ---------------------------------------------------------------------------------

TEST(Dtype, Bf16HandCases) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808000)), 0x3f80);  // tie, even below: down
    EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f818000)), 0x3f82);  // tie, odd below: up
    EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808001)), 0x3f81);  // above the tie: up
    EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f807fff)), 0x3f80);  // below the tie: down
    EXPECT_EQ(f32_to_bf16(3.4e38f), 0x7f80);                    // rounds up to inf
    EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
    EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
    EXPECT_EQ(f32_to_bf16(1e-40f), 0x0001);  // denormals survive
    EXPECT_EQ(f32_to_bf16(NAN), 0xffff);     // torch CPU's NaN
    EXPECT_EQ(f32_to_bf16(-NAN), 0xffff);
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_TRUE(std::isnan(bf16_to_f32(0xffff)));
}

TEST(Dtype, F16HandCases) {
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);                  // largest half
    EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);                  // below the tie
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                  // tie with odd 0x7bff: to inf
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);     // tie with 0: to even (0)
    EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);     // above the tie
    EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 ulp: tie, odd 1 -> 2
    EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);  // subnormal rounds up into normal
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
    EXPECT_EQ(f32_to_f16(NAN), 0x7e00);
    EXPECT_EQ(f32_to_f16(-NAN), 0xfe00);
    EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
    EXPECT_EQ(f16_to_f32(0xfbff), -65504.0f);
}

// Every 16-bit pattern survives half -> f32 -> half and bf16 -> f32 -> bf16 (NaNs stay NaN).
TEST(Dtype, AllSixteenBitPatternsRoundTrip) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = f16_to_f32(static_cast<uint16_t>(h));
        const float b = bf16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
        } else {
            ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
        }
        if (std::isnan(b)) {
            EXPECT_EQ(f32_to_bf16(b), 0xffff);
        } else {
            ASSERT_EQ(f32_to_bf16(b), h) << std::hex << h;
        }
    }
}

// The conversions give exactly torch's bits (`tensor.to(torch.bfloat16 / torch.float16)`) on a few
// thousand values: specials, both sides of every rounding boundary, denormals, random bit patterns.
TEST_F(SafetensorsTest, ConversionsMatchTorchBitForBit) {
    std::vector<uint32_t> bits = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
                                  0x7f800001, 0x7fffffff, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff,
                                  0x477fe000, 0x477ff000, 0x477fefff, 0x477ff001, 0x33000000, 0x33000001,
                                  0x33c00000, 0x387fc000, 0x387fe000, 0x38800000, 0x3f808000, 0x3f818000};
    for (uint32_t e = 0; e < 256; ++e)  // each exponent, with mantissas at and around both tie points
        for (uint32_t m : {0x000000u, 0x001000u, 0x001001u, 0x002fffu, 0x003000u, 0x008000u, 0x018000u,
                           0x7fffffu, 0x400000u})
            bits.push_back(e << 23 | m);
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; ++i) bits.push_back(rng());
    for (int i = 0; i < 500; ++i) bits.push_back(f32_bits(std::normal_distribution<float>(0, 0.02f)(rng)));

    const std::string in = path("in.bin"), out = path("out.bin");
    write_bytes(in, std::string(reinterpret_cast<const char*>(bits.data()), bits.size() * 4));
    const std::string script =
        "import torch,sys\n"
        "b=bytearray(open(sys.argv[1],'rb').read())\n"
        "x=torch.frombuffer(b,dtype=torch.float32)\n"
        "open(sys.argv[2],'wb').write(bytes(x.to(torch.bfloat16).view(torch.uint8)) + "
        "bytes(x.to(torch.float16).view(torch.uint8)))\n";
    write_bytes(path("conv.py"), script);
    const std::string log = run("/usr/bin/python3 " + path("conv.py") + " " + in + " " + out + " 2>&1");
    if (torch_missing(log)) GTEST_SKIP() << "/usr/bin/python3 with torch not available";
    ASSERT_EQ(log, "");
    const std::string got = read_bytes(out);
    ASSERT_EQ(got.size(), bits.size() * 4);
    const uint16_t* bf = reinterpret_cast<const uint16_t*>(got.data());
    const uint16_t* hf = bf + bits.size();
    int bf_bad = 0, hf_bad = 0;
    for (size_t i = 0; i < bits.size(); ++i) {
        const float x = f32_from_bits(bits[i]);
        if (f32_to_bf16(x) != bf[i] && ++bf_bad < 5)
            ADD_FAILURE() << std::hex << "bf16 of 0x" << bits[i] << ": ours 0x" << f32_to_bf16(x)
                          << " torch 0x" << bf[i];
        if (f32_to_f16(x) != hf[i] && ++hf_bad < 5)
            ADD_FAILURE() << std::hex << "f16 of 0x" << bits[i] << ": ours 0x" << f32_to_f16(x) << " torch 0x"
                          << hf[i];
    }
    EXPECT_EQ(bf_bad, 0);
    EXPECT_EQ(hf_bad, 0);
}

// ---- writer --------------------------------------------------------------------------------------

// The exact bytes safetensors.torch.save_file writes: compact header, __metadata__ first, F32 before
// BF16 (descending dtype), names sorted within a dtype, header space-padded to a multiple of 8.
TEST_F(SafetensorsTest, WriterProducesTheReferenceLayout) {
    const float b[2] = {1.0f, -2.0f};
    const float a[1] = {1.0f};
    const float c[1] = {3.0f};
    safetensors_write(
        path("x.safetensors"),
        {{"b", "F32", {2}, b, nullptr}, {"c", "F32", {1, 1}, c, nullptr}, {"a", "BF16", {1}, a, nullptr}});
    const std::string header =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"c\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]},"
        "\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[12,14]}}";
    std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
    std::string data(14, '\0');
    std::memcpy(data.data(), b, 8);
    std::memcpy(data.data() + 8, c, 4);
    const uint16_t one = 0x3f80;
    std::memcpy(data.data() + 12, &one, 2);
    EXPECT_EQ(read_bytes(path("x.safetensors")), make_file(padded, data));
}

TEST_F(SafetensorsTest, RoundTripF32Bf16F16) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(3 * 5), y(7), z(2 * 2 * 3);
    for (float& v : x) v = normal(rng);
    for (float& v : y) v = normal(rng);
    for (float& v : z) v = normal(rng);
    y[0] = 1e-40f;  // a denormal
    y[1] = -INFINITY;
    safetensors_write(path("m.safetensors"), {{"x", "F32", {3, 5}, x.data(), nullptr},
                                              {"y", "BF16", {7}, y.data(), nullptr},
                                              {"z", "F16", {2, 2, 3}, z.data(), nullptr},
                                              {"empty", "F32", {0, 4}, x.data(), nullptr},
                                              {"scalar", "F32", {}, x.data(), nullptr}});
    SafetensorsFile f(path("m.safetensors"));
    EXPECT_EQ(f.metadata().at("format"), "pt");
    ASSERT_EQ(f.tensors().size(), 5u);
    ASSERT_NE(f.find("z"), nullptr);
    EXPECT_EQ(f.find("nope"), nullptr);
    EXPECT_EQ(f.find("z")->shape, (std::vector<int64_t>{2, 2, 3}));
    EXPECT_EQ(f.find("scalar")->numel, 1u);
    EXPECT_EQ(f.find("empty")->numel, 0u);

    std::vector<float> got(15);
    f.read_f32(*f.find("x"), got.data());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(f32_bits(got[i]), f32_bits(x[i]));
    f.read_f32(*f.find("y"), got.data());
    for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(got[i], bf16_to_f32(f32_to_bf16(y[i])));
    EXPECT_EQ(got[0], bf16_to_f32(1));
    EXPECT_EQ(got[1], -INFINITY);
    f.read_f32(*f.find("z"), got.data());
    for (size_t i = 0; i < z.size(); ++i) {
        EXPECT_EQ(got[i], f16_to_f32(f32_to_f16(z[i])));
        EXPECT_NEAR(got[i], z[i], std::fabs(z[i]) * 1e-3f);
    }
    // Each tensor starts aligned to its element size (F32 first, then the 2-byte types).
    for (const SafetensorsTensor& t : f.tensors())
        EXPECT_EQ(t.begin % (safetensors_dtype_bits(t.dtype) / 8), 0u) << t.name;
    const std::string bytes = read_bytes(path("m.safetensors"));
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u);
}

// Write -> read -> write gives the same bytes, both through the raw path and through floats.
TEST_F(SafetensorsTest, RewriteIsByteIdentical) {
    std::vector<float> w(64), b(8);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float& v : w) v = normal(rng);
    for (float& v : b) v = normal(rng);
    safetensors_write(path("a.safetensors"), {{"layer.weight", "BF16", {8, 8}, w.data(), nullptr},
                                              {"layer.bias", "F16", {8}, b.data(), nullptr},
                                              {"head", "F32", {2, 4}, w.data(), nullptr}});
    SafetensorsFile a(path("a.safetensors"));
    std::vector<SafetensorsEntry> raw, floats;
    std::vector<std::vector<float>> keep;
    for (const SafetensorsTensor& t : a.tensors()) {
        raw.push_back({t.name, t.dtype, t.shape, nullptr, a.bytes(t)});
        keep.emplace_back(t.numel);
        a.read_f32(t, keep.back().data());
    }
    for (size_t i = 0; i < a.tensors().size(); ++i) {
        const SafetensorsTensor& t = a.tensors()[i];
        floats.push_back({t.name, t.dtype, t.shape, keep[i].data(), nullptr});
    }
    safetensors_write(path("b.safetensors"), raw);
    safetensors_write(path("c.safetensors"), floats);
    const std::string original = read_bytes(path("a.safetensors"));
    EXPECT_EQ(read_bytes(path("b.safetensors")), original);
    EXPECT_EQ(read_bytes(path("c.safetensors")), original);
}

TEST_F(SafetensorsTest, WriterRejectsBadEntries) {
    const float x[1] = {0};
    EXPECT_THROW(safetensors_write(path("e.safetensors"), {{"a", "Q8", {1}, x, nullptr}}), Error);
    EXPECT_THROW(safetensors_write(path("e.safetensors"), {{"a", "I32", {1}, x, nullptr}}), Error);
    EXPECT_THROW(safetensors_write(path("e.safetensors"),
                                   {{"a", "F32", {1}, x, nullptr}, {"a", "F32", {1}, x, nullptr}}),
                 Error);
    EXPECT_THROW(safetensors_write(path("e.safetensors"), {{"a", "F32", {-1}, x, nullptr}}), Error);
    EXPECT_THROW(safetensors_write(path("e.safetensors"), {{"__metadata__", "F32", {1}, x, nullptr}}), Error);
    EXPECT_THROW(safetensors_write(path("no/such/dir/e.safetensors"), {{"a", "F32", {1}, x, nullptr}}),
                 Error);
}

// ---- reader checks: each corruption gets its own message naming the file (and tensor) -------------

TEST_F(SafetensorsTest, RejectsTooSmallFile) {
    write_bytes(path("f"), "abc");
    expect_open_error(path("f"), {"3 bytes", "too small"});
    write_bytes(path("g"), "");
    expect_open_error(path("g"), {"0 bytes", "too small"});
}

TEST_F(SafetensorsTest, RejectsHeaderTooLarge) {
    write_bytes(path("f"), make_file("{}", "", 100'000'001));
    expect_open_error(path("f"), {"100000001", "exceeds the 100 MB limit"});
}

TEST_F(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
    write_bytes(path("f"), make_file("{}", "", 64));
    expect_open_error(path("f"), {"header length 64", "beyond the end of the file"});
}

TEST_F(SafetensorsTest, RejectsNonUtf8Header) {
    write_bytes(path("f"), make_file("{\"a\xff\":1}   ", ""));
    expect_open_error(path("f"), {"not valid UTF-8", "offset 3"});
    write_bytes(path("g"), make_file("{\"\xed\xa0\x80\"}", ""));  // a UTF-16 surrogate
    expect_open_error(path("g"), {"not valid UTF-8"});
}

TEST_F(SafetensorsTest, RejectsHeaderNotStartingWithBrace) {
    write_bytes(path("f"), make_file(" {}     ", ""));
    expect_open_error(path("f"), {"does not start with '{'"});
    write_bytes(path("g"), make_file("", ""));
    expect_open_error(path("g"), {"does not start with '{'"});
}

TEST_F(SafetensorsTest, RejectsInvalidJson) {
    write_bytes(path("f"), make_file("{\"a\": {\"dtype\": }}", ""));
    expect_open_error(path("f"), {"not valid JSON"});
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
    write_bytes(path("f"), make_file(R"({"w":{"dtype":"Q8","shape":[2],"data_offsets":[0,2]}})", "ab"));
    expect_open_error(path("f"), {": w: ", "unknown dtype 'Q8'"});
}

TEST_F(SafetensorsTest, RejectsShapeByteSizeMismatch) {
    write_bytes(path("f"), make_file(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",
                                     std::string(12, '\0')));
    expect_open_error(path("f"), {": w: ", "hold 12 bytes", "[2, 2] of F32 needs 16"});
}

TEST_F(SafetensorsTest, RejectsOffsetsPastTheBuffer) {
    write_bytes(path("f"),
                make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"));
    expect_open_error(path("f"), {": w: ", "[0, 16]", "extend past the end of the data buffer (8 bytes"});
}

TEST_F(SafetensorsTest, RejectsOverlappingOffsets) {
    write_bytes(path("f"), make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                     std::string(12, '\0')));
    expect_open_error(path("f"), {": b: ", "overlap tensor a"});
}

TEST_F(SafetensorsTest, RejectsGappedOffsets) {
    write_bytes(path("f"), make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                     std::string(12, '\0')));
    expect_open_error(path("f"), {": b: ", "gap of 4 bytes after tensor a"});
    write_bytes(path("g"),
                make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')));
    expect_open_error(path("g"), {": a: ", "gap of 4 bytes at the start"});
}

TEST_F(SafetensorsTest, RejectsEndBeforeBegin) {
    write_bytes(path("f"), make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})",
                                     ""));
    expect_open_error(path("f"), {": b: ", "data_offsets must be [begin, end]"});
    write_bytes(path("g"), make_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "abcd"));
    expect_open_error(path("g"), {": b: ", "end is before begin"});
}

TEST_F(SafetensorsTest, RejectsTrailingBytes) {
    write_bytes(path("f"),
                make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "12345678"));
    expect_open_error(path("f"), {"data buffer is 8 bytes", "cover only 4", "4 trailing bytes"});
}

TEST_F(SafetensorsTest, RejectsNonStringMetadata) {
    write_bytes(path("f"), make_file(R"({"__metadata__":{"format":1}})", ""));
    expect_open_error(path("f"), {"__metadata__: value of 'format' is not a string"});
    write_bytes(path("g"), make_file(R"({"__metadata__":["pt"]})", ""));
    expect_open_error(path("g"), {"__metadata__: expected an object of strings"});
}

TEST_F(SafetensorsTest, RejectsNegativeAndOverflowingShapes) {
    write_bytes(path("f"), make_file(R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}})", ""));
    expect_open_error(path("f"), {": w: ", "negative dimension"});
    write_bytes(
        path("g"),
        make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""));
    expect_open_error(path("g"), {": w: ", "overflows", "element count"});
    write_bytes(path("h"),
                make_file(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", ""));
    expect_open_error(path("h"), {": w: ", "overflows", "size in bytes"});
    write_bytes(path("i"), make_file(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}})", ""));
    expect_open_error(path("i"), {": w: ", "non-negative integers"});
}

TEST_F(SafetensorsTest, RejectsSubByteSizeNotWholeBytes) {
    write_bytes(path("f"), make_file(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", "ab"));
    expect_open_error(path("f"), {": w: ", "not a whole number of bytes"});
}

TEST_F(SafetensorsTest, RejectsDuplicateKeys) {
    write_bytes(path("f"), make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                     "abcd"));
    expect_open_error(path("f"), {": w: key appears twice"});
    write_bytes(path("g"),
                make_file(R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", "abcd"));
    expect_open_error(path("g"), {": w.dtype: key appears twice"});
}

TEST_F(SafetensorsTest, RejectsMalformedEntries) {
    write_bytes(path("a"), make_file(R"({"w":[1,2]})", ""));
    expect_open_error(path("a"), {": w: ", "expected an object"});
    write_bytes(path("b"), make_file(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "abcd"));
    expect_open_error(path("b"), {": w: ", "missing \"dtype\""});
    write_bytes(path("c"), make_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"));
    expect_open_error(path("c"), {": w: ", "missing \"shape\""});
    write_bytes(path("d"), make_file(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd"));
    expect_open_error(path("d"), {": w: ", "missing \"data_offsets\""});
    write_bytes(path("e"), make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", "abcd"));
    expect_open_error(path("e"), {": w: ", "data_offsets must be [begin, end]"});
    write_bytes(path("f"), make_file(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "abcd"));
    expect_open_error(path("f"), {": w: ", "dtype must be a string"});
}

TEST_F(SafetensorsTest, MissingFileAndUnsupportedConversion) {
    expect_open_error(path("nope.safetensors"), {"cannot open"});
    const std::string ids = std::string("\x01\0\0\0\0\0\0\0", 8);
    write_bytes(path("f"), make_file(R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", ids));
    SafetensorsFile f(path("f"));
    float out;
    try {
        f.read_f32(f.tensors()[0], &out);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path("f") + ": ids: unsupported dtype I64"), std::string::npos)
            << e.what();
    }
}

// Found by the fuzzer: reporting a deeply nested value must not recurse (nlohmann's dump() would
// overflow the stack on a million nested arrays).
TEST_F(SafetensorsTest, DeeplyNestedHeaderIsAnErrorNotACrash) {
    const size_t depth = 1'000'000;
    write_bytes(path("f"),
                make_file("{\"w\":" + std::string(depth, '[') + std::string(depth, ']') + "}", ""));
    expect_open_error(path("f"), {": w: ", "expected an object", "an array of 1 elements"});
    write_bytes(path("g"), make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":" + std::string(depth, '[') +
                                         std::string(depth, ']') + ",\"data_offsets\":[0,0]}}",
                                     ""));
    expect_open_error(path("g"), {": w: ", "shape must be a list of non-negative integers"});
}

// Tolerated by the reference and by us: zero-size tensors, scalars, null metadata, unknown fields.
TEST_F(SafetensorsTest, AcceptsLegalEdgeCases) {
    write_bytes(path("f"),
                make_file(R"({"__metadata__":null,"e":{"dtype":"F16","shape":[0,3],"data_offsets":[0,0]},)"
                          R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4],"extra":1}}   )",
                          std::string("\0\0\x80\x3f", 4)));
    SafetensorsFile f(path("f"));
    ASSERT_EQ(f.tensors().size(), 2u);
    float s = 0;
    f.read_f32(*f.find("s"), &s);
    EXPECT_EQ(s, 1.0f);
}

// ---- cross-check with a plain-torch reader (what transformers' loader would see) ------------------

TEST_F(SafetensorsTest, TorchReaderSeesTheSameTensors) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    std::vector<float> a(6 * 7), b(33), c(4 * 2 * 3);
    for (float& v : a) v = normal(rng);
    for (float& v : b) v = normal(rng);
    for (float& v : c) v = normal(rng);
    const std::string file = path("t.safetensors");
    safetensors_write(file, {{"model.a.weight", "F32", {6, 7}, a.data(), nullptr},
                             {"model.b.bias", "BF16", {33}, b.data(), nullptr},
                             {"model.c.weight", "F16", {4, 2, 3}, c.data(), nullptr}});
    const std::string out = run(
        "/usr/bin/python3 " STRIDE_SOURCE_DIR "/tests/model/reference/read_safetensors.py " + file + " 2>&1");
    if (torch_missing(out)) GTEST_SKIP() << "/usr/bin/python3 with torch not available";
    std::istringstream lines(out);
    SafetensorsFile f(file);
    int seen = 0;
    std::string name, dtype, shape;
    double sum, weighted;
    while (lines >> name >> dtype >> shape >> sum >> weighted) {
        const SafetensorsTensor* t = f.find(name);
        ASSERT_NE(t, nullptr) << name;
        EXPECT_EQ(dtype, t->dtype);
        std::string ours = "[";
        for (size_t i = 0; i < t->shape.size(); ++i) {
            if (i) ours += ",";
            ours += std::to_string(t->shape[i]);
        }
        EXPECT_EQ(shape, ours + "]");
        std::vector<float> x(t->numel);
        f.read_f32(*t, x.data());
        double s = 0, w = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            s += x[i];
            w += x[i] * static_cast<double>(i + 1);
        }
        EXPECT_NEAR(sum, s, 1e-9 * (1 + std::fabs(s))) << name;
        EXPECT_NEAR(weighted, w, 1e-9 * (1 + std::fabs(w))) << name;
        ++seen;
    }
    EXPECT_EQ(seen, 3) << out;
}
