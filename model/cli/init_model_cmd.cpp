// stride init-model: writes a seeded random Hugging Face checkpoint (config.json + model.safetensors,
// or shards + index). Tests, benches and the quickstart use it to get a model without downloads;
// the same arguments and seed always give the same bytes.
//
//   stride init-model --arch qwen3 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --intermediate 128
//       --vocab 256 --head-dim 32 --tie --dtype bf16 --seed 1 --out /tmp/tiny
#include <cstdio>
#include <cstdlib>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/cli/args.h"
#include "model/cli/commands.h"

namespace stride::cli {

int init_model(int argc, char** argv) {
    const Args args(argc, argv,
                    {"arch", "hidden", "layers", "heads", "kv-heads", "intermediate", "vocab", "head-dim",
                     "dtype", "rope-theta", "max-position", "eos", "bos", "seed", "out", "shard-bytes"},
                    {"tie"});
    ModelConfig cfg;
    cfg.arch = arch_from_name(args.get("arch"));
    cfg.hidden = args.get_int("hidden");
    cfg.layers = args.get_int("layers");
    cfg.heads = args.get_int("heads");
    cfg.kv_heads = args.get_int("kv-heads");
    cfg.intermediate = args.get_int("intermediate");
    cfg.vocab = args.get_int("vocab");
    STRIDE_CHECK(cfg.heads > 0, "--heads must be > 0");
    STRIDE_CHECK(args.has("head-dim") || cfg.hidden % cfg.heads == 0,
                 "--hidden must be a multiple of --heads unless --head-dim is given");
    cfg.head_dim = args.get_int("head-dim", cfg.hidden / cfg.heads);
    cfg.tie_embeddings = args.has("tie");
    cfg.rope_theta = args.get_double("rope-theta", 10000.0);
    cfg.max_position = args.get_int("max-position", 32768);
    cfg.bos_token_id = args.get_int("bos", -1);
    if (args.has("eos")) cfg.eos_token_ids = {args.get_int("eos")};
    // The same per-architecture facts model_config_from_json derives, so that the config.json we
    // write reads back as exactly this config.
    cfg.qkv_bias = cfg.arch == Arch::qwen2;
    cfg.o_bias = false;
    cfg.mlp_bias = false;
    cfg.qk_norm = cfg.arch == Arch::qwen3;
    cfg.validate();

    const DiskDtype dtype = disk_dtype_from_name(args.get("dtype", "f32"));
    const std::string shard_arg = args.get("shard-bytes", "0");
    char* end = nullptr;
    const unsigned long long shard_bytes = std::strtoull(shard_arg.c_str(), &end, 10);
    STRIDE_CHECK(!shard_arg.empty() && shard_arg[0] != '-' && *end == '\0',
                 "--shard-bytes expects a byte count, got '" + shard_arg + "'");
    STRIDE_CHECK(args.has("seed"), "missing --seed (the checkpoint must be reproducible)");
    const uint64_t seed = args.get_u64("seed", 0);
    const std::string out = args.get("out");

    Model m(cfg);
    model_init_random(m, seed);
    checkpoint_save(m, out, dtype, static_cast<size_t>(shard_bytes));
    std::printf("wrote %s: %s, %zu parameters, %s\n", out.c_str(), arch_name(cfg.arch), m.layout.numel(),
                args.get("dtype", "f32").c_str());
    return 0;
}

}  // namespace stride::cli
