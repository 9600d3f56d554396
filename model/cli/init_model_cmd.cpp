// stride init-model: writes a seeded random Hugging Face checkpoint (config.json + model.safetensors,
// or shards + index). Tests, benches and the quickstart use it to get a model without downloads;
// the same arguments and seed always give the same bytes.
//
//   stride init-model --arch qwen3 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --intermediate 128
//       --vocab 256 --head-dim 32 --tie --dtype bf16 --seed 1 --out /tmp/tiny
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/cli/commands.h"
#include "model/cli/parser.h"

namespace stride::cli {

int init_model(int argc, char** argv) {
    std::string arch, dtype = "f32", out;
    int hidden = 0, layers = 0, heads = 0, kv_heads = 0, intermediate = 0, vocab = 0, head_dim = 0;
    int max_position = 32768, bos = -1, eos = -1;
    double rope_theta = 10000.0;
    uint64_t seed = 0, shard_bytes = 0;
    bool tie = false;
    Parser p(
        "stride init-model --arch llama|qwen2|qwen3 --hidden N --layers N --heads N --kv-heads N "
        "--intermediate N --vocab N --seed S --out DIR [options]",
        "Writes a seeded random Hugging Face checkpoint (config.json + model.safetensors, or shards +\n"
        "index). The same arguments and seed always give the same bytes.");
    p.flag("arch", arch, "architecture: llama, qwen2 or qwen3", true)
        .flag("hidden", hidden, "hidden size", true)
        .flag("layers", layers, "decoder layers", true)
        .flag("heads", heads, "attention heads", true)
        .flag("kv-heads", kv_heads, "key/value heads", true)
        .flag("intermediate", intermediate, "MLP intermediate size", true)
        .flag("vocab", vocab, "vocabulary size", true)
        .flag("seed", seed, "seed of the random weights (the checkpoint must be reproducible)", true)
        .flag("out", out, "checkpoint directory to write", true)
        .flag("head-dim", head_dim, "head dimension (default: hidden / heads)")
        .toggle("tie", tie, "tie the embeddings and the LM head")
        .flag("dtype", dtype, "on-disk dtype: f32, bf16 or f16")
        .flag("rope-theta", rope_theta, "RoPE base")
        .flag("max-position", max_position, "max_position_embeddings")
        .flag("eos", eos, "eos_token_id (default: none)")
        .flag("bos", bos, "bos_token_id (-1: none)")
        .flag("shard-bytes", shard_bytes, "split into shards of at most this many bytes (0: one file)");
    if (!p.parse(argc, argv)) return 0;

    ModelConfig cfg;
    cfg.arch = arch_from_name(arch);
    cfg.hidden = hidden;
    cfg.layers = layers;
    cfg.heads = heads;
    cfg.kv_heads = kv_heads;
    cfg.intermediate = intermediate;
    cfg.vocab = vocab;
    STRIDE_CHECK(cfg.heads > 0, "--heads must be > 0");
    STRIDE_CHECK(p.given("head-dim") || cfg.hidden % cfg.heads == 0,
                 "--hidden must be a multiple of --heads unless --head-dim is given");
    cfg.head_dim = p.given("head-dim") ? head_dim : cfg.hidden / cfg.heads;
    cfg.tie_embeddings = tie;
    cfg.rope_theta = rope_theta;
    cfg.max_position = max_position;
    cfg.bos_token_id = bos;
    if (p.given("eos")) cfg.eos_token_ids = {eos};
    // The same per-architecture facts model_config_from_json derives, so that the config.json we
    // write reads back as exactly this config.
    cfg.qkv_bias = cfg.arch == Arch::qwen2;
    cfg.o_bias = false;
    cfg.mlp_bias = false;
    cfg.qk_norm = cfg.arch == Arch::qwen3;
    cfg.validate();

    const DiskDtype disk_dtype = disk_dtype_from_name(dtype);
    Model m(cfg);
    model_init_random(m, seed);
    checkpoint_save(m, out, disk_dtype, static_cast<size_t>(shard_bytes));
    std::printf("wrote %s: %s, %zu parameters, %s\n", out.c_str(), arch_name(cfg.arch), m.layout.numel(),
                dtype.c_str());
    return 0;
}

}  // namespace stride::cli
