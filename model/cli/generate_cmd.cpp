// stride generate: sample a completion for one prompt with the CPU engine (KV cache + generator).
//
//   stride generate --model DIR [--tokenizer tokenizer.json] --prompt "Hello" [--max-tokens 64]
//       [--temperature 1.0 --top-p 1.0 --top-k 0 --seed 0] [--chat] [--json] [--kv-mb 256]
//   stride generate --model DIR --prompt-ids 1,2,3 --json        (no tokenizer needed)
//
// --tokenizer defaults to DIR/tokenizer.json when it exists. Prints the completion text (or, with --json, one
// JSON object with token ids, per-token behaviour log-probs, finish reason and text) to stdout, and a
// throughput line to stderr. --chat renders the prompt as one user turn: with the model's own chat_template
// in the full binary (generate_with's renderer, scheduler/cli_generate.cpp), else — and for a model without
// one — with the family's wrap (Qwen ChatML, or Llama-3 headers for arch llama). Generation stops at
// max-tokens or at an EOS id from config.json (in chat mode also the usual end-of-turn tokens).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/backend.h"
#include "model/checkpoint.h"
#include "model/cli/commands.h"
#include "model/cli/parser.h"
#include "model/generator.h"
#ifdef STRIDE_HAVE_TOKENIZER
#include "model/tokenizer/tokenizer.h"
#endif

namespace stride::cli {

namespace {

std::vector<int> parse_ids(const std::string& text) {
    std::vector<int> ids;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        long v = std::strtol(item.c_str(), &end, 10);
        STRIDE_CHECK(!item.empty() && end && *end == '\0',
                     "--prompt-ids expects comma-separated integers, got '" + item + "'");
        ids.push_back(static_cast<int>(v));
    }
    return ids;
}

std::string chat_wrap(Arch arch, const std::string& prompt) {
    if (arch == Arch::llama)
        return "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + prompt +
               "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n";
}

}  // namespace

int generate(int argc, char** argv) {
    return generate_with(argc, argv, nullptr);
}

int generate_with(int argc, char** argv, const ChatRenderer& render_chat) {
    std::string model_dir, tokenizer_path, prompt, prompt_ids, device = "cpu";
    int max_tokens = 64, top_k = 0, kv_mb = 256;
    double temperature = 1.0, top_p = 1.0;
    uint64_t seed = 0;
    bool chat = false, as_json = false;
    Parser p(
        "stride generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]",
        "Samples a completion for one prompt with the engine (CPU or CUDA backend). Prints the text (or, "
        "with --json, one\n"
        "JSON object with token ids, log-probs, finish reason and text) and a throughput line on stderr.");
    p.flag("model", model_dir, "HF checkpoint directory", true)
        .flag("tokenizer", tokenizer_path, "tokenizer.json (default: DIR/tokenizer.json when it exists)")
        .flag("prompt", prompt, "prompt text (needs a tokenizer)")
        .flag("prompt-ids", prompt_ids, "prompt as comma-separated token ids (no tokenizer needed)")
        .flag("max-tokens", max_tokens, "most new tokens")
        .flag("temperature", temperature, "sampling temperature (0: greedy)")
        .flag("top-p", top_p, "nucleus sampling mass")
        .flag("top-k", top_k, "sample among the k most likely tokens (0: all)")
        .flag("seed", seed, "sampling seed")
        .flag("kv-mb", kv_mb, "KV cache budget in MiB (grown when the prompt needs more)")
        .flag("device", device, "where to compute: cpu or cuda")
        .toggle(
            "chat", chat,
            "render the prompt as one user turn with the model's own chat_template (tokenizer_config.json "
            "beside tokenizer.json), or the model family's ChatML / Llama-3 wrap when it has none")
        .toggle("json", as_json, "print one JSON object instead of the text");
    if (!p.parse(argc, argv)) return 0;
    STRIDE_CHECK(p.given("prompt") || p.given("prompt-ids"), "give --prompt TEXT or --prompt-ids 1,2,3");
    Model model = checkpoint_load(model_dir);
    const ModelConfig& cfg = model.config();

    GenerationRequest req;
    req.id = 0;
    req.max_new_tokens = max_tokens;
    req.sampling.temperature = static_cast<float>(temperature);
    req.sampling.top_p = static_cast<float>(top_p);
    req.sampling.top_k = top_k;
    req.sampling.seed = seed;
    req.stop_tokens = cfg.eos_token_ids;

#ifdef STRIDE_HAVE_TOKENIZER
    std::unique_ptr<Tokenizer> tok;
    // Without --tokenizer, the checkpoint's own tokenizer.json (HF checkpoints ship one).
    if (!p.given("tokenizer") && std::filesystem::exists(model_dir + "/tokenizer.json"))
        tokenizer_path = model_dir + "/tokenizer.json";
    if (!tokenizer_path.empty()) tok = std::make_unique<Tokenizer>(Tokenizer::load(tokenizer_path));
#endif
    if (p.given("prompt-ids")) {
        STRIDE_CHECK(!p.given("prompt"), "give either --prompt or --prompt-ids, not both");
        req.prompt = parse_ids(prompt_ids);
    } else {
#ifdef STRIDE_HAVE_TOKENIZER
        STRIDE_CHECK(tok, "--prompt needs --tokenizer FILE or " + model_dir +
                              "/tokenizer.json (or pass token ids with --prompt-ids)");
        std::string text = prompt;
        if (chat) {
            const std::string own = render_chat ? render_chat(model_dir, tokenizer_path, text) : "";
            text = own.empty() ? chat_wrap(cfg.arch, text) : own;
            for (const char* end_of_turn : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>"}) {
                int id = tok->token_to_id(end_of_turn);
                if (id >= 0) req.stop_tokens.push_back(id);
            }
        }
        req.prompt = tok->encode(text);
#else
        throw Error("this build has no tokenizer (needs libonig-dev and libutf8proc-dev); use --prompt-ids");
#endif
    }

    GeneratorOptions opt;
    opt.kv_bytes = static_cast<size_t>(kv_mb) << 20;
    opt.max_running = 1;
    opt.max_batch_tokens = 2048;
    // The pool must hold prompt + completion; grow the default budget rather than fail on long prompts.
    const size_t need = static_cast<size_t>(req.prompt.size() + req.max_new_tokens + opt.block_size) *
                        cfg.layers * 2 * cfg.kv_heads * cfg.head_dim * sizeof(float);
    if (opt.kv_bytes < need) opt.kv_bytes = need;
    opt.backend = &backend_for_device(device);
    Generator gen(model, opt);
    gen.add(req);

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<GeneratedSequence> out = gen.run_until_done();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    STRIDE_CHECK(out.size() == 1, "generate: internal error, expected one finished sequence");
    const GeneratedSequence& g = out[0];

    std::string text;
#ifdef STRIDE_HAVE_TOKENIZER
    if (tok) text = tok->decode(g.tokens);
#endif
    if (as_json) {
        nlohmann::json j;
        j["prompt_tokens"] = req.prompt;
        j["tokens"] = g.tokens;
        j["logprobs"] = g.logprobs;
        j["finish_reason"] = finish_reason_name(g.reason);
        j["text"] = text;
        std::printf("%s\n", j.dump().c_str());
    } else if (!text.empty() || g.tokens.empty()) {
        std::printf("%s\n", text.c_str());
    } else {  // no tokenizer: the ids
        for (size_t i = 0; i < g.tokens.size(); ++i) std::printf(i ? " %d" : "%d", g.tokens[i]);
        std::printf("\n");
    }
    std::fprintf(stderr,
                 "stride generate: %zu prompt + %zu new tokens in %.3f s (%.1f tokens/s), finish: %s\n",
                 req.prompt.size(), g.tokens.size(), secs, (req.prompt.size() + g.tokens.size()) / secs,
                 finish_reason_name(g.reason));
    return 0;
}

}  // namespace stride::cli
