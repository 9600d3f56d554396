// HF checkpoint directories: save/load round trips in every dtype, sharding exactly like transformers,
// validation of names/shapes/dtypes against config.json, safe overwrites, and `stride init-model`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/dtype.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;
using namespace stride;

namespace {

class CheckpointTest : public ::testing::Test {
   protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        root_ = "/tmp/stride_ckpt_" + std::to_string(::getpid()) + "_" + info->name();
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }
    std::string dir(const std::string& name) const { return root_ + "/" + name; }
    std::string root_;
};

ModelConfig tiny_config(Arch arch, bool tie) {
    ModelConfig c;
    c.arch = arch;
    c.hidden = 16;
    c.intermediate = 24;
    c.layers = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.head_dim = arch == Arch::qwen3 ? 8 : 4;  // Qwen3: head_dim != hidden / heads
    c.vocab = 32;
    c.tie_embeddings = tie;
    c.qkv_bias = arch == Arch::qwen2;
    c.qk_norm = arch == Arch::qwen3;
    c.eos_token_ids = {2};
    return c;
}

Model random_model(const ModelConfig& c, uint64_t seed = 42) {
    Model m(c);
    model_init_random(m, seed, 0.5f);
    return m;
}

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

// Rewrites a checkpoint's model.safetensors through `edit`, which may drop, add or change entries.
void rewrite_weights(const std::string& dir,
                     const std::function<void(std::vector<SafetensorsEntry>&)>& edit) {
    const std::string file = dir + "/model.safetensors";
    std::vector<SafetensorsEntry> entries;
    std::string copy;
    {
        SafetensorsFile f(file);
        copy = read_bytes(file);  // keep the bytes alive after the mapping goes
        const size_t data_start = copy.size() - (f.tensors().empty() ? 0 : f.tensors().back().end);
        for (const SafetensorsTensor& t : f.tensors())
            entries.push_back({t.name, t.dtype, t.shape, nullptr, copy.data() + data_start + t.begin});
    }
    edit(entries);
    safetensors_write(file, entries);
}

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
    try {
        fn();
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        for (const std::string& f : fragments)
            EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST(DiskDtype, Names) {
    EXPECT_EQ(disk_dtype_from_name("f32"), DiskDtype::f32);
    EXPECT_EQ(disk_dtype_from_name("float32"), DiskDtype::f32);
    EXPECT_EQ(disk_dtype_from_name("bf16"), DiskDtype::bf16);
    EXPECT_EQ(disk_dtype_from_name("bfloat16"), DiskDtype::bf16);
    EXPECT_EQ(disk_dtype_from_name("f16"), DiskDtype::f16);
    EXPECT_EQ(disk_dtype_from_name("float16"), DiskDtype::f16);
    expect_error([] { disk_dtype_from_name("int8"); }, {"'int8'", "f32, bf16 or f16"});
}

// ---- round trips -----------------------------------------------------------------------------------

TEST_F(CheckpointTest, RoundTripF32IsExactForEveryArch) {
    for (Arch arch : {Arch::llama, Arch::qwen2, Arch::qwen3}) {
        for (bool tie : {false, true}) {
            const Model m = random_model(tiny_config(arch, tie));
            const std::string d = dir(std::string(arch_name(arch)) + (tie ? "_tied" : ""));
            checkpoint_save(m, d, DiskDtype::f32);
            EXPECT_EQ(list_dir(d), (std::vector<std::string>{"config.json", "model.safetensors"}));
            const Model back = checkpoint_load(d);
            EXPECT_EQ(back.config().arch, arch);
            EXPECT_EQ(back.config().tie_embeddings, tie);
            EXPECT_EQ(back.config().head_dim, m.config().head_dim);
            EXPECT_EQ(back.config().torch_dtype, "float32");
            ASSERT_EQ(back.data.size(), m.data.size());
            EXPECT_EQ(std::memcmp(back.data.data(), m.data.data(), m.data.size() * 4), 0);
            SafetensorsFile f(d + "/model.safetensors");
            EXPECT_EQ(f.find("lm_head.weight") != nullptr, !tie);
            EXPECT_EQ(f.find("model.layers.1.self_attn.q_norm.weight") != nullptr, arch == Arch::qwen3);
            EXPECT_EQ(f.find("model.layers.0.self_attn.q_proj.bias") != nullptr, arch == Arch::qwen2);
        }
    }
}

TEST_F(CheckpointTest, RoundTripBf16AndF16RoundOnce) {
    const Model m = random_model(tiny_config(Arch::qwen3, true));
    checkpoint_save(m, dir("bf16"), DiskDtype::bf16);
    checkpoint_save(m, dir("f16"), DiskDtype::f16);
    const Model b = checkpoint_load(dir("bf16"));
    const Model h = checkpoint_load(dir("f16"));
    EXPECT_EQ(b.config().torch_dtype, "bfloat16");
    EXPECT_EQ(h.config().torch_dtype, "float16");
    for (size_t i = 0; i < m.data.size(); ++i) {
        ASSERT_EQ(b.data[i], bf16_to_f32(f32_to_bf16(m.data[i]))) << i;
        ASSERT_EQ(h.data[i], f16_to_f32(f32_to_f16(m.data[i]))) << i;
    }
    SafetensorsFile f(dir("bf16") + "/model.safetensors");
    for (const SafetensorsTensor& t : f.tensors()) EXPECT_EQ(t.dtype, "BF16") << t.name;
    const auto cfg = nlohmann::json::parse(read_bytes(dir("bf16") + "/config.json"));
    EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
    EXPECT_EQ(cfg["model_type"], "qwen3");
    EXPECT_EQ(cfg["architectures"][0], "Qwen3ForCausalLM");
}

// Same model -> same bytes; load + save again -> same bytes (bf16 values survive f32 exactly).
TEST_F(CheckpointTest, SavingIsDeterministicAndRewriteIsByteIdentical) {
    const ModelConfig c = tiny_config(Arch::qwen2, false);
    checkpoint_save(random_model(c, 5), dir("a"), DiskDtype::bf16);
    checkpoint_save(random_model(c, 5), dir("b"), DiskDtype::bf16);
    checkpoint_save(checkpoint_load(dir("a")), dir("c"), DiskDtype::bf16);
    for (const char* f : {"/model.safetensors", "/config.json"}) {
        EXPECT_EQ(read_bytes(dir("a") + f), read_bytes(dir("b") + f)) << f;
        EXPECT_EQ(read_bytes(dir("a") + f), read_bytes(dir("c") + f)) << f;
    }
    checkpoint_save(random_model(c, 6), dir("d"), DiskDtype::bf16);
    EXPECT_NE(read_bytes(dir("a") + "/model.safetensors"), read_bytes(dir("d") + "/model.safetensors"));
}

TEST_F(CheckpointTest, ShardedSaveMatchesHfLayoutAndLoads) {
    const Model m = random_model(tiny_config(Arch::llama, false));
    // Embedding and lm_head are 32*16*2 = 1024 bytes in bf16; a layer is ~3.3 KB. 2 KB shards.
    const size_t max_shard = 2048;
    checkpoint_save(m, dir("s"), DiskDtype::bf16, max_shard);
    const auto index = nlohmann::json::parse(read_bytes(dir("s") + "/model.safetensors.index.json"));
    const auto& wm = index["weight_map"];
    EXPECT_EQ(wm.size(), m.layout.specs().size());
    std::set<std::string> shards;
    for (auto it = wm.begin(); it != wm.end(); ++it) shards.insert(it->get<std::string>());
    ASSERT_GT(shards.size(), 2u);
    const std::string n = std::to_string(shards.size());
    EXPECT_EQ(*shards.begin(), "model-00001-of-0000" + n + ".safetensors");
    EXPECT_EQ(*shards.rbegin(), "model-0000" + n + "-of-0000" + n + ".safetensors");
    EXPECT_FALSE(fs::exists(dir("s") + "/model.safetensors"));
    // total_size is the sum of tensor bytes, without headers.
    EXPECT_EQ(index["metadata"]["total_size"].get<size_t>(), m.layout.numel() * 2);
    // transformers' text: json.dumps(indent=2, sort_keys=True) + "\n".
    EXPECT_EQ(read_bytes(dir("s") + "/model.safetensors.index.json"), index.dump(2) + "\n");
    // Shards follow state-dict order and respect the limit unless one tensor alone exceeds it.
    size_t shard_no = 0;
    for (const std::string& s : shards) {
        SafetensorsFile f(dir("s") + "/" + s);
        size_t bytes = 0;
        for (const SafetensorsTensor& t : f.tensors()) {
            bytes += t.end - t.begin;
            EXPECT_EQ(wm[t.name], s);
        }
        EXPECT_TRUE(bytes <= max_shard || f.tensors().size() == 1) << s;
        ++shard_no;
    }
    EXPECT_EQ(wm["model.embed_tokens.weight"], *shards.begin());
    EXPECT_EQ(wm["lm_head.weight"], *shards.rbegin());

    const Model back = checkpoint_load(dir("s"));
    for (size_t i = 0; i < m.data.size(); ++i) ASSERT_EQ(back.data[i], bf16_to_f32(f32_to_bf16(m.data[i])));
    // A limit above the model size gives the single-file form.
    checkpoint_save(m, dir("one"), DiskDtype::bf16, 1 << 30);
    EXPECT_EQ(list_dir(dir("one")), (std::vector<std::string>{"config.json", "model.safetensors"}));
}

// Overwriting keeps unrelated files, drops stale weight files of the old layout, leaves no staging.
TEST_F(CheckpointTest, OverwriteReplacesWeightFilesOnly) {
    const Model a = random_model(tiny_config(Arch::qwen2, true), 1);
    const Model b = random_model(tiny_config(Arch::qwen2, true), 2);
    checkpoint_save(a, dir("x"), DiskDtype::f32);
    write_bytes(dir("x") + "/tokenizer.json", "{}");
    checkpoint_save(b, dir("x"), DiskDtype::f32, 1024);  // now sharded
    EXPECT_FALSE(fs::exists(dir("x") + "/model.safetensors"));
    EXPECT_TRUE(fs::exists(dir("x") + "/tokenizer.json"));
    EXPECT_TRUE(fs::exists(dir("x") + "/model.safetensors.index.json"));
    EXPECT_EQ(checkpoint_load(dir("x")).data, b.data);
    checkpoint_save(a, dir("x"), DiskDtype::f32);  // back to one file: the shards and index go
    EXPECT_EQ(list_dir(dir("x")),
              (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json"}));
    EXPECT_EQ(checkpoint_load(dir("x")).data, a.data);
    EXPECT_EQ(list_dir(root_), (std::vector<std::string>{"x"}));  // no *.tmp-* left behind
}

TEST_F(CheckpointTest, FailedSaveLeavesNoFinalNameAndNoStaging) {
    write_bytes(dir("file"), "not a directory");
    expect_error(
        [&] { checkpoint_save(random_model(tiny_config(Arch::llama, true)), dir("file"), DiskDtype::f32); },
        {dir("file"), "not a directory"});
    EXPECT_EQ(read_bytes(dir("file")), "not a directory");
    EXPECT_EQ(list_dir(root_), (std::vector<std::string>{"file"}));
}

TEST_F(CheckpointTest, LoadWeightsIntoExistingModel) {
    const ModelConfig c = tiny_config(Arch::qwen3, false);
    const Model src = random_model(c, 9);
    checkpoint_save(src, dir("w"), DiskDtype::f32);
    Model dst = random_model(c, 10);
    checkpoint_load_weights(dst, dir("w"));
    EXPECT_EQ(dst.data, src.data);
    ModelConfig other = c;
    other.intermediate = 32;
    Model wrong(other);
    expect_error([&] { checkpoint_load_weights(wrong, dir("w")); },
                 {"config.json", "intermediate_size is 24"});
}

// ---- validation on load ------------------------------------------------------------------------------

TEST_F(CheckpointTest, MissingTensorIsNamed) {
    checkpoint_save(random_model(tiny_config(Arch::llama, false)), dir("m"), DiskDtype::f32);
    rewrite_weights(dir("m"), [](auto& e) {
        std::erase_if(
            e, [](const SafetensorsEntry& x) { return x.name == "model.layers.1.mlp.up_proj.weight"; });
    });
    expect_error([&] { checkpoint_load(dir("m")); },
                 {"model.safetensors", "missing tensor(s): model.layers.1.mlp.up_proj.weight [24, 16]"});
}

TEST_F(CheckpointTest, UntiedModelWithoutLmHeadIsAnError) {
    checkpoint_save(random_model(tiny_config(Arch::qwen2, false)), dir("m"), DiskDtype::f32);
    rewrite_weights(dir("m"), [](auto& e) {
        std::erase_if(e, [](const SafetensorsEntry& x) { return x.name == "lm_head.weight"; });
    });
    expect_error([&] { checkpoint_load(dir("m")); }, {"missing tensor(s): lm_head.weight"});
}

TEST_F(CheckpointTest, UnexpectedTensorIsNamedButInvFreqIsIgnored) {
    checkpoint_save(random_model(tiny_config(Arch::llama, false)), dir("m"), DiskDtype::f32);
    static const float junk[4] = {1, 2, 3, 4};
    rewrite_weights(dir("m"), [](auto& e) {
        e.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {4}, nullptr, junk});
    });
    EXPECT_NO_THROW(checkpoint_load(dir("m")));
    rewrite_weights(dir("m"), [](auto& e) {
        e.push_back({"model.layers.0.extra.weight", "F32", {4}, nullptr, junk});
    });
    expect_error([&] { checkpoint_load(dir("m")); },
                 {"model.safetensors", "unexpected tensor(s)", "llama", "model.layers.0.extra.weight"});
}

TEST_F(CheckpointTest, TiedModelWithStrayLmHeadLoadsWithWarning) {
    const Model m = random_model(tiny_config(Arch::qwen3, true));
    checkpoint_save(m, dir("t"), DiskDtype::f32);
    std::vector<float> head(32 * 16, 7.0f);
    rewrite_weights(dir("t"), [&](auto& e) {
        e.push_back({"lm_head.weight", "F32", {32, 16}, nullptr, head.data()});
    });
    ::testing::internal::CaptureStderr();
    const Model back = checkpoint_load(dir("t"));
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("warning"), std::string::npos) << err;
    EXPECT_NE(err.find("lm_head.weight"), std::string::npos) << err;
    EXPECT_EQ(back.data, m.data);  // the embedding stays the output layer
}

TEST_F(CheckpointTest, WrongShapeIsNamed) {
    checkpoint_save(random_model(tiny_config(Arch::qwen2, true)), dir("m"), DiskDtype::f32);
    std::vector<float> w(16 * 8, 0.0f);
    rewrite_weights(dir("m"), [&](auto& e) {
        for (auto& x : e)
            if (x.name == "model.layers.0.self_attn.k_proj.weight")
                x = {x.name, "F32", {16, 8}, nullptr, w.data()};
    });
    expect_error([&] { checkpoint_load(dir("m")); },
                 {"model.safetensors: model.layers.0.self_attn.k_proj.weight: shape [16, 8]", "[8, 16]"});
}

TEST_F(CheckpointTest, UnsupportedDtypeIsNamed) {
    checkpoint_save(random_model(tiny_config(Arch::qwen2, true)), dir("m"), DiskDtype::f32);
    std::vector<int64_t> ids(16, 1);
    rewrite_weights(dir("m"), [&](auto& e) {
        for (auto& x : e)
            if (x.name == "model.norm.weight") x = {x.name, "I64", {16}, nullptr, ids.data()};
    });
    expect_error([&] { checkpoint_load(dir("m")); },
                 {"model.safetensors: model.norm.weight: unsupported dtype I64"});
}

TEST_F(CheckpointTest, MixedDtypesInOneCheckpointLoad) {
    const Model m = random_model(tiny_config(Arch::llama, true));
    checkpoint_save(m, dir("m"), DiskDtype::f32);
    std::vector<uint16_t> norm(16, 0x3f80);  // bf16 ones
    rewrite_weights(dir("m"), [&](auto& e) {
        for (auto& x : e)
            if (x.name == "model.norm.weight") x = {x.name, "BF16", {16}, nullptr, norm.data()};
    });
    const Model back = checkpoint_load(dir("m"));
    EXPECT_EQ(back.w.final_norm[3], 1.0f);
}

TEST_F(CheckpointTest, NotACheckpointAndBrokenConfig) {
    fs::create_directories(dir("empty"));
    expect_error([&] { checkpoint_load(dir("empty")); }, {dir("empty") + "/config.json", "cannot open"});
    const Model m = random_model(tiny_config(Arch::qwen2, true));
    checkpoint_save(m, dir("m"), DiskDtype::f32);
    fs::remove(dir("m") + "/model.safetensors");
    expect_error([&] { checkpoint_load(dir("m")); },
                 {dir("m"), "no model.safetensors or model.safetensors.index.json"});
    // A config that asks for far more layers than the file holds fails before any allocation.
    checkpoint_save(m, dir("big"), DiskDtype::f32);
    std::string cfg = read_bytes(dir("big") + "/config.json");
    cfg.replace(cfg.find("\"num_hidden_layers\": 2"), 22, "\"num_hidden_layers\": 2000000000");
    write_bytes(dir("big") + "/config.json", cfg);
    expect_error([&] { checkpoint_load(dir("big")); }, {"num_hidden_layers is 2000000000"});
}

TEST_F(CheckpointTest, CorruptWeightFileNamesTheFile) {
    checkpoint_save(random_model(tiny_config(Arch::qwen2, true)), dir("m"), DiskDtype::f32);
    const std::string file = dir("m") + "/model.safetensors";
    std::string bytes = read_bytes(file);
    write_bytes(file, bytes.substr(0, bytes.size() - 4));  // truncated
    expect_error([&] { checkpoint_load(dir("m")); }, {file, "extend past the end of the data buffer"});
}

TEST_F(CheckpointTest, ShardedIndexIsValidated) {
    const Model m = random_model(tiny_config(Arch::qwen2, false));
    checkpoint_save(m, dir("s"), DiskDtype::f32, 4096);
    const std::string index_path = dir("s") + "/model.safetensors.index.json";
    const auto index = nlohmann::json::parse(read_bytes(index_path));
    const std::string first = index["weight_map"]["model.embed_tokens.weight"];
    const std::string last = index["weight_map"]["lm_head.weight"];
    ASSERT_NE(first, last);
    auto with_index = [&](const std::function<void(nlohmann::json&)>& edit) {
        nlohmann::json j = index;
        edit(j);
        write_bytes(index_path, j.dump(2));
    };
    with_index([&](auto& j) { j["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors"; });
    expect_error([&] { checkpoint_load(dir("s")); },
                 {index_path, "model-00009-of-00009.safetensors", "does not exist"});
    // The first shard also holds layer 0's input norm; both shards stay referenced after these edits.
    const std::string moved = "model.layers.0.input_layernorm.weight";
    ASSERT_EQ(index["weight_map"][moved], first);
    with_index([&](auto& j) { j["weight_map"][moved] = last; });
    expect_error([&] { checkpoint_load(dir("s")); }, {first, moved, "the index places it in " + last});
    with_index([&](auto& j) { j["weight_map"].erase(moved); });
    expect_error([&] { checkpoint_load(dir("s")); }, {first, moved, "not listed in the weight_map"});
    with_index([&](auto& j) { j["weight_map"]["model.extra"] = first; });
    expect_error([&] { checkpoint_load(dir("s")); }, {index_path, "model.extra", "not in that file"});
    with_index([&](auto& j) { j["weight_map"]["lm_head.weight"] = "../elsewhere.safetensors"; });
    expect_error([&] { checkpoint_load(dir("s")); },
                 {index_path, "lm_head.weight", "inside the checkpoint directory"});
    with_index([&](auto& j) { j.erase("weight_map"); });
    expect_error([&] { checkpoint_load(dir("s")); }, {index_path, "weight_map"});
    write_bytes(index_path, "{not json");
    expect_error([&] { checkpoint_load(dir("s")); }, {index_path, "invalid JSON"});
    with_index([](auto&) {});
    EXPECT_EQ(checkpoint_load(dir("s")).data, m.data);
}

// ---- the plain-torch reader agrees with our loader on a whole sharded checkpoint --------------------

TEST_F(CheckpointTest, TorchReaderAgreesOnShardedCheckpoint) {
    const Model m = random_model(tiny_config(Arch::qwen3, false));
    checkpoint_save(m, dir("s"), DiskDtype::bf16, 3000);
    std::string cmd = "/usr/bin/python3 " STRIDE_SOURCE_DIR "/tests/model/reference/read_safetensors.py";
    for (const std::string& f : list_dir(dir("s")))
        if (f.rfind("model-", 0) == 0) cmd += " " + dir("s") + "/" + f;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = ::pclose(p);
    if (out.find("No module named 'torch'") != std::string::npos)
        GTEST_SKIP() << "/usr/bin/python3 has no torch";
    ASSERT_EQ(rc, 0) << out;
    const Model back = checkpoint_load(dir("s"));
    std::istringstream lines(out);
    std::string name, dtype, shape;
    double sum, weighted;
    size_t seen = 0;
    while (lines >> name >> dtype >> shape >> sum >> weighted) {
        const int i = back.layout.find(name);
        ASSERT_GE(i, 0) << name;
        const ParamSpec& s = back.layout.specs()[i];
        EXPECT_EQ(dtype, "BF16");
        double ours = 0, ours_w = 0;
        for (size_t k = 0; k < s.numel; ++k) {
            ours += back.data[s.offset + k];
            ours_w += back.data[s.offset + k] * static_cast<double>(k + 1);
        }
        EXPECT_NEAR(sum, ours, 1e-9 * (1 + std::fabs(ours))) << name;
        EXPECT_NEAR(weighted, ours_w, 1e-9 * (1 + std::fabs(ours_w))) << name;
        ++seen;
    }
    EXPECT_EQ(seen, back.layout.specs().size()) << out;
}

// ---- stride init-model (through the binary; skipped when it has not been built) ----------------------

namespace {

int run_stride(const std::string& args, std::string* output = nullptr) {
    const std::string cmd = std::string(STRIDE_BIN) + " " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return -1;
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (output) *output = out;
    const int rc = ::pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_F(CheckpointTest, InitModelCommandIsSeededAndLoads) {
    if (!fs::exists(STRIDE_BIN)) GTEST_SKIP() << STRIDE_BIN << " not built";
    const std::string base =
        "init-model --arch qwen3 --hidden 32 --layers 2 --heads 4 --kv-heads 2 --intermediate 48 --vocab 64 "
        "--head-dim 16 --tie --dtype bf16 --rope-theta 1000000 --max-position 4096 --eos 3 --bos 1 --seed 7";
    std::string out;
    ASSERT_EQ(run_stride(base + " --out " + dir("a"), &out), 0) << out;
    ASSERT_EQ(run_stride(base + " --out " + dir("b"), &out), 0) << out;
    ASSERT_EQ(run_stride(base + " --out " + dir("c") + " --shard-bytes 4000", &out), 0) << out;
    EXPECT_EQ(read_bytes(dir("a") + "/model.safetensors"), read_bytes(dir("b") + "/model.safetensors"));
    EXPECT_EQ(read_bytes(dir("a") + "/config.json"), read_bytes(dir("b") + "/config.json"));
    const Model m = checkpoint_load(dir("a"));
    EXPECT_EQ(m.config().arch, Arch::qwen3);
    EXPECT_EQ(m.config().head_dim, 16);
    EXPECT_TRUE(m.config().tie_embeddings);
    EXPECT_EQ(m.config().rope_theta, 1000000.0);
    EXPECT_EQ(m.config().max_position, 4096);
    EXPECT_EQ(m.config().eos_token_ids, std::vector<int>{3});
    EXPECT_EQ(m.config().bos_token_id, 1);
    EXPECT_EQ(m.config().torch_dtype, "bfloat16");
    EXPECT_EQ(checkpoint_load(dir("c")).data, m.data);
    EXPECT_TRUE(fs::exists(dir("c") + "/model.safetensors.index.json"));
    ASSERT_EQ(run_stride(base + " --seed 8 --out " + dir("d"), &out), 0) << out;
    EXPECT_NE(read_bytes(dir("a") + "/model.safetensors"), read_bytes(dir("d") + "/model.safetensors"));

    EXPECT_EQ(
        run_stride("init-model --arch gpt2 --hidden 8 --layers 1 --heads 2 --kv-heads 2 --intermediate 8 "
                   "--vocab 8 --seed 1 --out " +
                       dir("x"),
                   &out),
        1);
    EXPECT_NE(out.find("unsupported architecture 'gpt2'"), std::string::npos) << out;
    EXPECT_EQ(
        run_stride("init-model --arch llama --hidden 8 --layers 1 --heads 2 --kv-heads 2 --intermediate 8 "
                   "--vocab 8 --out " +
                       dir("x"),
                   &out),
        2);  // a missing flag: a usage error
    EXPECT_NE(out.find("--seed"), std::string::npos) << out;
    EXPECT_EQ(
        run_stride("init-model --arch llama --hidden 8 --layers 1 --heads 3 --kv-heads 2 --intermediate 8 "
                   "--vocab 8 --head-dim 4 --seed 1 --out " +
                       dir("x"),
                   &out),
        1);
    EXPECT_NE(out.find("num_key_value_heads"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(dir("x")));
}
