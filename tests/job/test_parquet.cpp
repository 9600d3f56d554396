// The Parquet reader against independent implementations: files written by the npm hyparquet-writer
// (data page v2; PLAIN, dictionary, RLE, DELTA_* and BYTE_STREAM_SPLIT encodings; every codec but LZO;
// nested columns and nulls; dates, times, timestamps and decimals),
// parquetjs-lite (data page v1) and hyparquet-writer's encoders assembled into v1 PLAIN_DICTIONARY
// and INT96 pages, read back by `stride data head` and compared with what the npm hyparquet reads. Then:
// verl-shaped files load as datasets, unsupported features are refused naming column and feature, malformed
// and truncated files are refused with an Error and never crash. The files are generated at test time by
// tests/parquet_oracle/make_fixtures.mjs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/error.h"
#include "job/data_gen.h"
#include "job/dataset.h"
#include "job/parquet/parquet_reader.h"
#include "scheduler/job_config.h"
#include "tests/cli_test_util.h"

namespace stride {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_capture;
using test::run_stride_cli;
using test::slurp;

const std::string kOracle = std::string(STRIDE_SOURCE_DIR) + "/tests/parquet_oracle";

std::string oracle_missing() {
    const std::string fix = " — run `bash tests/prepare_oracles.sh` (make test runs it)";
    if (std::system("node --version > /dev/null 2>&1") != 0) return "node is not installed" + fix;
    if (std::system("zstd --version > /dev/null 2>&1") != 0) return "zstd is not installed" + fix;
    for (const char* p : {"hyparquet", "hyparquet-writer", "hyparquet-compressors", "parquetjs-lite"})
        if (!fs::exists(kOracle + "/node_modules/" + p))
            return std::string("tests/parquet_oracle/node_modules/") + p + " is missing" + fix;
    return "";
}

// The fixtures, generated once per version of the generator and shared by the test processes
// (ctest runs each case as its own process): written to a private folder, then renamed into place.
std::string fixtures() {
    static std::string dir = [] {
        const std::string script = slurp(kOracle + "/make_fixtures.mjs");
        const fs::path final_dir = fs::path(STRIDE_BINARY_DIR) / "tests" /
                                   ("parquet_fixtures_" + std::to_string(std::hash<std::string>{}(script)));
        if (fs::exists(final_dir)) return final_dir.string();
        const fs::path tmp = final_dir.string() + ".tmp-" + std::to_string(getpid());
        fs::remove_all(tmp);
        int rc = 0;
        const std::string out =
            run_capture("cd '" + kOracle + "' && node make_fixtures.mjs '" + tmp.string() + "' 2>&1", rc);
        if (rc != 0) throw Error("make_fixtures.mjs failed: " + out);
        std::error_code ec;
        fs::rename(tmp, final_dir, ec);
        if (ec) fs::remove_all(tmp);  // another process got there first
        return final_dir.string();
    }();
    return dir;
}

std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

// hyparquet reads an empty `repeated` primitive without a LIST annotation (parquetjs-lite's `colours`
// and `stock.where`) as null, and an empty repeated group as []; Parquet defines both as empty lists,
// and so do we. Only there does the oracle's null stand for our [].
void empty_repeated_primitives(const json& ours, json& oracle) {
    if (ours.is_array() && oracle.is_array() && ours.size() == oracle.size()) {
        for (size_t i = 0; i < ours.size(); ++i) empty_repeated_primitives(ours[i], oracle[i]);
    } else if (ours.is_object() && oracle.is_object()) {
        for (auto& [key, value] : oracle.items()) {
            if (!ours.contains(key)) continue;
            if ((key == "colours" || key == "where") && value.is_null() && ours[key] == json::array())
                value = json::array();
            else
                empty_repeated_primitives(ours[key], value);
        }
    }
}

class Parquet : public ::testing::Test {
   protected:
    void SetUp() override {
        const std::string missing = oracle_missing();
        ASSERT_TRUE(missing.empty()) << missing;
        dir_ = fixtures();
    }
    std::string file(const std::string& name) const { return dir_ + "/" + name; }
    std::string dir_;
};

std::vector<std::string> supported_fixtures(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("unsupported_", 0) != 0) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Reads every row of `bytes`; true when read, false when refused with an Error. Anything else (another
// exception, a crash under the sanitizers) fails the test.
bool read_all(const std::string& bytes, parquet::Limits limits = {}, std::string* error = nullptr) {
    try {
        parquet::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem.parquet",
                          limits);
        std::vector<parquet::Row> rows;
        while (r.next_row_group(rows)) {
        }
        return true;
    } catch (const Error& e) {
        if (error) *error = e.what();
        return false;
    }
}

// `stride data head` of `path` against tests/parquet_oracle/read.mjs (hyparquet): the same rows, the
// columns in the file's order.
void expect_rows_equal_the_oracle(const std::string& path, size_t min_rows) {
    const std::string name = fs::path(path).filename().string();
    auto ours = run_stride_cli("data head '" + path + "' --n -1", "", "parquet_cli");
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    int rc = 0;
    const std::string oracle = run_capture("cd '" + kOracle + "' && node read.mjs '" + path + "'", rc);
    ASSERT_EQ(rc, 0) << oracle;
    std::vector<json> a = json_lines(ours.out), b = json_lines(oracle);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_GT(a.size(), min_rows);
    for (size_t i = 0; i < a.size(); ++i) {
        if (name.rfind("v1_", 0) == 0) empty_repeated_primitives(a[i], b[i]);
        ASSERT_EQ(a[i], b[i]) << "row " << i;
    }
    auto keys = [](const std::string& text) {
        const auto row = nlohmann::ordered_json::parse(text.substr(0, text.find('\n')));
        std::vector<std::string> k;
        for (auto it = row.begin(); it != row.end(); ++it) k.push_back(it.key());
        return k;
    };
    EXPECT_EQ(keys(ours.out), keys(oracle));
}

TEST_F(Parquet, DataHeadEqualsHyparquetOnEveryEncodingCodecAndNesting) {
    const auto names = supported_fixtures(dir_);
    ASSERT_EQ(names.size(), 32u);
    for (const std::string& name : names) {
        SCOPED_TRACE(name);
        expect_rows_equal_the_oracle(file(name), name == "all_null.parquet" ? 2u : 50u);
    }
}

// Dates, times, timestamps (every unit, UTC or local, logical or converted type; INT96) and decimals
// (INT32, INT64, FIXED_LEN_BYTE_ARRAY, BYTE_ARRAY), PLAIN and dictionary-encoded: the text the README
// promises, equal to what the oracle makes of hyparquet's stored values. Spot checks pin the format.
TEST_F(Parquet, DatesTimesTimestampsAndDecimalsAreReadAsText) {
    for (const char* name :
         {"temporal_plain.parquet", "temporal_dictionary.parquet", "timestamp_dates.parquet",
          "decimal_plain.parquet", "decimal_dictionary.parquet", "int96.parquet"}) {
        SCOPED_TRACE(name);
        expect_rows_equal_the_oracle(file(name), 50u);
    }
    auto first = [&](const std::string& name) {
        auto r = run_stride_cli("data head '" + file(name) + "' --n 1", "", "parquet_cli");
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return json::parse(r.out);
    };
    const json t = first("temporal_plain.parquet");
    EXPECT_EQ(t["day"], "1970-01-01");
    EXPECT_EQ(t["ts_millis"], "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(t["ts_micros_local"], "1970-01-01T00:00:00.000000") << "a local timestamp has no Z";
    EXPECT_EQ(t["ts_nanos"], "1969-12-31T23:59:59.999999999Z");
    EXPECT_EQ(t["ts_legacy"], "1970-01-01T00:00:00.000001Z");
    EXPECT_EQ(t["clock_millis"], "23:59:59.999") << "a local TIME has no Z";
    EXPECT_EQ(t["clock_nanos"], "00:00:00.000000000Z");
    const json d = first("decimal_plain.parquet");
    EXPECT_EQ(d["price"], "-21474836.48");
    EXPECT_EQ(d["amount"], "-922337203685477.5808");
    EXPECT_EQ(d["tiny"], "0.0000001");
    EXPECT_EQ(d["wide"], "0.0000000000");
    EXPECT_EQ(first("int96.parquet")["at"], "1970-01-01T00:00:00.000000000Z");
}

// Parquet's LZ4 codec is Hadoop's framing, but older parquet-cpp wrote bare LZ4 blocks under the same
// codec: a page that is not framed is read as one raw block.
TEST_F(Parquet, Lz4PagesWithoutHadoopFramingAreReadAsOneRawBlock) {
    const std::string bytes = slurp(file("flat_lz4_unframed.parquet"));
    EXPECT_TRUE(read_all(bytes)) << "the raw-block fallback";
    expect_rows_equal_the_oracle(file("flat_lz4_unframed.parquet"), 50u);
}

TEST_F(Parquet, DataHeadPrintsTheFirstNRowsAndJsonlToo) {
    auto three = run_stride_cli("data head '" + file("nested_zstd.parquet") + "' --n 3", "", "parquet_cli");
    ASSERT_EQ(three.exit_code, 0) << three.err;
    auto all = run_stride_cli("data head '" + file("nested_zstd.parquet") + "' --n -1", "", "parquet_cli");
    auto a = json_lines(three.out), b = json_lines(all.out);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a, std::vector<json>(b.begin(), b.begin() + 3));
    auto ten = run_stride_cli("data head '" + file("flat_snappy.parquet") + "'", "", "parquet_cli");
    EXPECT_EQ(json_lines(ten.out).size(), 10u);  // the default

    const std::string jsonl = dir_ + "/../parquet_head_" + std::to_string(getpid()) + ".jsonl";
    std::ofstream(jsonl) << "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n\n{\"b\": 1, \"a\": [true]}\n";
    auto j = run_stride_cli("data head '" + jsonl + "'", "", "parquet_cli");
    EXPECT_EQ(j.out, "{\"prompt\":\"1+1=\",\"answer\":\"2\"}\n{\"b\":1,\"a\":[true]}\n");
    fs::remove(jsonl);

    auto missing = run_stride_cli("data head /nonexistent.parquet", "", "parquet_cli");
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.err.find("/nonexistent.parquet: cannot open"), std::string::npos) << missing.err;
}

TEST_F(Parquet, VerlGsm8kLikeFileLoadsAsADataset) {
    const DatasetKeys keys{"prompt", "answer", "qwen"};
    std::vector<Example> ex = load_dataset_file(file("gsm8k_like.parquet"), keys);
    ASSERT_EQ(ex.size(), 120u);
    EXPECT_EQ(ex[0].messages.size(), 2u);  // a system turn every 4th row
    EXPECT_EQ(ex[0].messages[0].role, "system");
    EXPECT_EQ(ex[1].messages.size(), 1u);
    EXPECT_EQ(ex[1].messages[0].role, "user");
    EXPECT_NE(ex[1].prompt.find("<|im_start|>user\nNatalia sold"), std::string::npos);
    for (const Example& e : ex) {
        EXPECT_EQ(e.data_source, "openai/gsm8k");
        json extra = json::parse(e.extra_info_json);
        EXPECT_TRUE(extra["index"].is_number_integer());
        EXPECT_NE(extra["answer"].get<std::string>().find("#### " + e.answer), std::string::npos);
    }
    EXPECT_EQ(ex[7].where, file("gsm8k_like.parquet") + ": row 7");

    // As a job loads it: data.train and data.eval both Parquet, or one file split.
    JobConfig cfg;
    cfg.data.chat_template = "qwen";  // no tokenizer_config.json here for auto
    cfg.data.train = file("gsm8k_like.parquet");
    cfg.data.eval = file("gsm8k_like_zstd.parquet");
    cfg.data.eval_size = 10;
    DatasetSplit s = load_job_datasets(cfg);
    EXPECT_EQ(s.train.size(), 120u);
    EXPECT_EQ(s.eval.size(), 10u);
    cfg.data.eval = "";
    s = load_job_datasets(cfg);
    EXPECT_EQ(s.train.size() + s.eval.size(), 120u);
}

// A nested ground truth (a list column inside reward_model) is kept as its JSON for Python rewards.
TEST_F(Parquet, ANestedGroundTruthKeepsItsJsonType) {
    std::vector<Example> ex = load_dataset_file(file("typed_truth.parquet"), DatasetKeys{});
    ASSERT_EQ(ex.size(), 60u);
    for (size_t i = 0; i < ex.size(); ++i) {
        EXPECT_EQ(ex[i].answer_json, "[" + std::to_string(i) + "," + std::to_string(i + 1) + "]");
        EXPECT_EQ(ex[i].answer, ex[i].answer_json);
    }
}

TEST_F(Parquet, DataTrainAndEvalTakeListsOfFilesOfEitherFormat) {
    const std::string jsonl = dir_ + "/../parquet_list_" + std::to_string(getpid()) + ".jsonl";
    std::ofstream(jsonl)
        << "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n{\"prompt\": \"2+2=\", \"answer\": 4}\n";
    const std::string yaml = dir_ + "/../parquet_list_" + std::to_string(getpid()) + ".yaml";
    std::ofstream(yaml) << "tokenizer: t.json\ndata:\n  chat_template: qwen\n  train: ["
                        << file("gsm8k_like.parquet") << ", " << jsonl << "]\n  eval: [" << jsonl
                        << ", 'gen:arith?n=5&seed=2']\n";
    JobConfig cfg = load_job_config(yaml);
    EXPECT_EQ(cfg.data.train, file("gsm8k_like.parquet") + "," + jsonl);
    DatasetSplit s = load_job_datasets(cfg);
    ASSERT_EQ(s.train.size(), 122u);
    EXPECT_EQ(s.train[0].where, file("gsm8k_like.parquet") + ": row 0");
    EXPECT_EQ(s.train[121].answer, "4");
    EXPECT_EQ(s.eval.size(), 7u);
    // The override form, with brackets or without.
    cfg = load_job_config(yaml,
                          {"data.train=[" + jsonl + "," + jsonl + "]", "data.eval=" + jsonl + "," + jsonl});
    s = load_job_datasets(cfg);
    EXPECT_EQ(s.train.size(), 4u);
    EXPECT_EQ(s.eval.size(), 4u);
    EXPECT_THROW(load_job_config(yaml, {"data.eval=[gen:nope?n=1]"}), Error);
    fs::remove(jsonl);
    fs::remove(yaml);
}

TEST_F(Parquet, UnsupportedFeaturesAreRefusedNamingColumnAndFeature) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"unsupported_interval.parquet",
         "column 'span': FIXED_LEN_BYTE_ARRAY with converted type INTERVAL is not supported"},
        {"unsupported_uuid.parquet",
         "column 'uid': FIXED_LEN_BYTE_ARRAY with logical type UUID is not supported"},
        {"unsupported_lzo.parquet", "column 'n': compression LZO is not supported"},
    };
    for (const auto& [name, message] : cases) {
        auto r = run_stride_cli("data head '" + file(name) + "'", "", "parquet_cli");
        EXPECT_EQ(r.exit_code, 1) << name;
        EXPECT_NE(r.err.find(file(name) + ":"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    }
}

TEST_F(Parquet, TruncatedAndMalformedFilesAreRefusedWithAnError) {
    const std::string good = slurp(file("nested_snappy.parquet"));
    ASSERT_TRUE(read_all(good));
    std::string err;
    // Every truncation.
    for (size_t n = 0; n < good.size(); n += 7) EXPECT_FALSE(read_all(good.substr(0, n))) << n;
    EXPECT_FALSE(read_all(good.substr(0, good.size() / 2), {}, &err));
    EXPECT_NE(err.find("mem.parquet: truncated or not a Parquet file"), std::string::npos) << err;
    // A middle cut out, the footer intact: the column chunks point past the end.
    std::string cut = good.substr(0, 4) + good.substr(good.size() / 2);
    EXPECT_FALSE(read_all(cut, {}, &err));
    EXPECT_NE(err.find("mem.parquet"), std::string::npos) << err;
    // A footer length larger than the file.
    std::string big = good;
    big[big.size() - 8] = '\xff';
    big[big.size() - 7] = '\xff';
    big[big.size() - 6] = '\xff';
    EXPECT_FALSE(read_all(big, {}, &err));
    EXPECT_NE(err.find("does not fit the file"), std::string::npos) << err;
    EXPECT_FALSE(read_all("PAR1", {}, &err));
    EXPECT_NE(err.find("not a Parquet file"), std::string::npos) << err;
    EXPECT_FALSE(read_all(std::string("{\"prompt\": \"x\"}\n"), {}, &err));
    // Every byte of the footer and the last page, flipped three ways, and seeded random damage
    // anywhere: read or refused, never a crash or an unbounded allocation.
    const size_t footer = static_cast<unsigned char>(good[good.size() - 8]) |
                          static_cast<unsigned char>(good[good.size() - 7]) << 8;
    for (size_t i = good.size() - 8 - footer - 100; i < good.size() - 8; ++i)
        for (unsigned char x : {0x01, 0xff}) {
            std::string bad = good;
            bad[i] = static_cast<char>(bad[i] ^ x);
            read_all(bad, {1 << 20, 1 << 20});
        }
    uint64_t state = 7;
    for (int k = 0; k < 1000; ++k) {
        std::string bad = good;
        for (int m = 0; m < 1 + k % 4; ++m) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            bad[(state >> 33) % bad.size()] = static_cast<char>(state >> 13);
        }
        read_all(bad, {1 << 20, 1 << 20});
    }
}

// The DELTA_* / BYTE_STREAM_SPLIT decoders, the Brotli and LZ4 codecs (framed and bare) and the
// temporal, decimal and INT96 values under seeded damage: every damaged file is read or refused with
// an Error, never a crash or an unbounded allocation.
TEST_F(Parquet, DeltaEncodingsAndNewCodecsSurviveDamage) {
    for (const char* name :
         {"flat_delta.parquet", "flat_brotli.parquet", "flat_lz4.parquet", "flat_lz4_raw.parquet",
          "flat_lz4_unframed.parquet", "flat_byte_stream_split_ints.parquet", "temporal_dictionary.parquet",
          "decimal_plain.parquet", "int96.parquet"}) {
        SCOPED_TRACE(name);
        const std::string good = slurp(file(name));
        ASSERT_TRUE(read_all(good));
        uint64_t state = 11;
        int refused = 0;
        for (int k = 0; k < 400; ++k) {
            std::string bad = good;
            for (int m = 0; m < 1 + k % 3; ++m) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                bad[4 + (state >> 33) % (bad.size() - 12)] = static_cast<char>(state >> 13);
            }
            refused += !read_all(bad, {1 << 20, 1 << 20});
        }
        EXPECT_GT(refused, 0);
    }
}

TEST_F(Parquet, PagesOverTheLimitsAreRefused) {
    const std::string good = slurp(file("flat_uncompressed.parquet"));
    std::string err;
    EXPECT_FALSE(read_all(good, {64, 1 << 20}, &err));
    EXPECT_NE(err.find("over the limit of 64"), std::string::npos) << err;
    EXPECT_FALSE(read_all(good, {1 << 20, 10}, &err));
    EXPECT_NE(err.find("mem.parquet: row group 0"), std::string::npos) << err;
}

TEST_F(Parquet, StreamsOneRowGroupAtATime) {
    parquet::Reader r(file("flat_zstd.parquet"));
    EXPECT_EQ(r.num_rows(), 300);
    EXPECT_EQ(r.num_row_groups(), 5);
    EXPECT_EQ(r.columns(),
              (std::vector<std::string>{"id", "word", "big", "small", "ratio", "f32", "flag", "label"}));
    std::vector<parquet::Row> rows;
    int64_t seen = 0;
    while (r.next_row_group(rows)) {
        EXPECT_LE(rows.size(), 64u);
        for (const auto& row : rows) EXPECT_EQ(row["id"].get<int64_t>(), seen++);
    }
    EXPECT_EQ(seen, 300);
    EXPECT_FALSE(r.next_row_group(rows));
}

}  // namespace
}  // namespace stride
