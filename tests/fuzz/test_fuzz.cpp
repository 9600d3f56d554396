// Every parser of untrusted input, fuzzed in `make test` (issue #20): each tests/fuzz/fuzz_*.cpp
// libFuzzer target (compiled in here with LLVMFuzzerTestOneInput renamed to stride_fuzz_<name>, see
// tests/CMakeLists.txt) gets its seed corpus (tests/fuzz/corpus/<name>/) as is, then a fixed number
// of mutants of it from a seeded generator: bit flips, interesting bytes, the target's dictionary
// words, inserted, deleted, repeated and spliced runs. The same seed gives the same inputs, so a
// failure reproduces; a crash writes the input to fuzz-crash-<name> in the working directory (the
// build tree) before the process dies. Longer campaigns under clang's libFuzzer with ASan/UBSan:
// tests/fuzz/build_and_run.sh (the safetensors and Parquet targets).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "common/messaging.h"

extern "C" {
int stride_fuzz_safetensors_header(const uint8_t*, size_t);
int stride_fuzz_parquet(const uint8_t*, size_t);
int stride_fuzz_config(const uint8_t*, size_t);
int stride_fuzz_tokenizer_json(const uint8_t*, size_t);
int stride_fuzz_jinja(const uint8_t*, size_t);
int stride_fuzz_jsonl(const uint8_t*, size_t);
int stride_fuzz_envelope(const uint8_t*, size_t);
int stride_fuzz_math_answer(const uint8_t*, size_t);
int stride_fuzz_code_label(const uint8_t*, size_t);
int stride_fuzz_buffer_request(const uint8_t*, size_t);
int stride_fuzz_registry_request(const uint8_t*, size_t);
int stride_fuzz_dispatcher_request(const uint8_t*, size_t);
int stride_fuzz_weight_serve(const uint8_t*, size_t);
int stride_fuzz_reward_reply(const uint8_t*, size_t);
int stride_fuzz_checkpoint_index(const uint8_t*, size_t);
}

namespace stride {
namespace {

namespace fs = std::filesystem;

using FuzzFn = int (*)(const uint8_t*, size_t);

struct FuzzTarget {
    std::string name;  // tests/fuzz/fuzz_<name>.cpp, tests/fuzz/corpus/<name>/
    FuzzFn fn;
    int mutants;  // sized so each target runs a few seconds on one core
    std::vector<std::string> dictionary;
};

// ---- crash capture --------------------------------------------------------------------------------

// The input being run, for the signal handler (async-signal-safe: plain globals, open/write only).
const uint8_t* g_input = nullptr;
size_t g_input_size = 0;
char g_crash_path[256] = "";

void on_fatal_signal(int sig) {
    const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (g_input_size > 0) (void)!::write(fd, g_input, g_input_size);
        ::close(fd);
    }
    static const char msg[] = "\nfuzz: the input that crashed is in ";
    (void)!::write(2, msg, sizeof(msg) - 1);
    (void)!::write(2, g_crash_path, std::strlen(g_crash_path));
    (void)!::write(2, "\n", 1);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void arm_crash_capture(const std::string& name) {
    std::snprintf(g_crash_path, sizeof(g_crash_path), "fuzz-crash-%s", name.c_str());
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, on_fatal_signal);
}

// ---- the mutator ----------------------------------------------------------------------------------

class Mutator {
   public:
    Mutator(uint64_t seed, const std::vector<std::string>& corpus, const std::vector<std::string>& dictionary)
        : state_(seed), corpus_(corpus), dictionary_(dictionary) {}

    std::string next() {
        std::string s = corpus_[below(corpus_.size())];
        const int rounds = 1 + static_cast<int>(below(4));
        for (int i = 0; i < rounds; ++i) mutate(s);
        if (s.size() > kMaxBytes) s.resize(kMaxBytes);
        return s;
    }

   private:
    static constexpr size_t kMaxBytes = 64 * 1024;

    uint64_t rand() {  // splitmix64
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n == 0 ? 0 : rand() % n; }

    void mutate(std::string& s) {
        static const char kInteresting[] = {'\0', '\x01', '\x7f', '\x80', '\xff', '{', '}', '[', ']', '"',
                                            '\\', '\n',   ':',    ',',    '%',    '-', '0', '9', '\''};
        const size_t pos = below(s.size() + 1);
        switch (below(8)) {
            case 0:  // flip a bit
                if (!s.empty()) s[below(s.size())] ^= static_cast<char>(1u << below(8));
                break;
            case 1:  // an interesting byte in place
                if (!s.empty()) s[below(s.size())] = kInteresting[below(sizeof(kInteresting))];
                break;
            case 2:  // insert random bytes
                for (size_t n = 1 + below(8); n > 0; --n)
                    s.insert(s.begin() + pos, static_cast<char>(rand()));
                break;
            case 3:  // delete a run
                if (!s.empty()) s.erase(below(s.size()), 1 + below(std::min<size_t>(s.size(), 32)));
                break;
            case 4:  // repeat a run (deep nesting, long tokens)
                if (!s.empty()) {
                    const size_t at = below(s.size()), len = 1 + below(std::min<size_t>(s.size() - at, 16));
                    const std::string run = s.substr(at, len);
                    for (size_t n = 1 + below(64); n > 0; --n) s.insert(at, run);
                }
                break;
            case 5:  // a dictionary word
                if (!dictionary_.empty()) s.insert(pos, dictionary_[below(dictionary_.size())]);
                break;
            case 6: {  // splice with another seed
                const std::string& other = corpus_[below(corpus_.size())];
                s = s.substr(0, pos) + other.substr(below(other.size() + 1));
                break;
            }
            default:  // cut short (truncated input)
                s.resize(pos);
                break;
        }
    }

    uint64_t state_;
    const std::vector<std::string>& corpus_;
    const std::vector<std::string>& dictionary_;
};

// ---- targets --------------------------------------------------------------------------------------

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Network messages have no text seeds: the envelopes roles really send, encoded here.
std::vector<std::string> envelope_seeds() {
    std::vector<std::string> out;
    v1::Envelope put = make_envelope("job");
    v1::Sample* s = put.mutable_put_samples()->add_samples();
    s->set_sample_id("g0-0");
    s->set_group_id("g0");
    s->set_group_size(4);
    for (int t : {1, 2, 3}) s->add_prompt_token_ids(t);
    for (int t : {4, 5}) {
        s->add_response_token_ids(t);
        s->add_behaviour_logprob(-0.5f);
        s->add_token_version(1);
    }
    s->set_segment_count(1);
    s->add_segment_starts(0);
    (*s->mutable_metadata())["k"] = "v";
    out.push_back(encode_envelope(put));
    v1::Envelope pull = make_envelope("job");
    pull.mutable_pull_batch()->set_num_groups(2);
    out.push_back(encode_envelope(pull));
    v1::Envelope take = make_envelope("job");
    take.mutable_prompt_request()->set_worker_id("rollout-0");
    out.push_back(encode_envelope(take));
    v1::Envelope chunk = make_envelope("job");
    chunk.mutable_weight_chunk()->set_version(3);
    out.push_back(encode_envelope(chunk));
    out.push_back(encode_envelope(make_error("other", v1::ERROR_CODE_WRONG_JOB, "no")));
    return out;
}

std::vector<std::string> corpus_of(const std::string& name) {
    std::vector<std::string> seeds;
    const fs::path dir = fs::path(STRIDE_SOURCE_DIR) / "tests/fuzz/corpus" / name;
    if (fs::exists(dir)) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
        std::sort(files.begin(), files.end());  // the same order on every machine
        for (const auto& f : files) seeds.push_back(read_file(f));
    }
    if (name == "envelope")
        for (std::string& e : envelope_seeds()) seeds.push_back(std::move(e));
    return seeds;
}

// Protobuf wire bytes: tags of the envelope's job id and bodies, varints at their limits.
const std::vector<std::string> kEnvelopeWords = {"\x08",
                                                 "\x10",
                                                 "\x0a\x03job",
                                                 "\x6a",
                                                 "\xff\xff\xff\xff\x0f",
                                                 "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"};

std::vector<FuzzTarget> targets() {
    return {
        {"safetensors_header",
         stride_fuzz_safetensors_header,
         60000,
         {"__metadata__", "dtype", "shape", "data_offsets", "F32", "BF16", "F16", "I64",
          "18446744073709551615", "-1"}},
        {"parquet", stride_fuzz_parquet, 20000, {"PAR1", "\x15\x00", "\x19\x1c", "\x18\x04"}},
        {"config",
         stride_fuzz_config,
         4000,
         {"trainer.", "rollout:", "{", "}", ": ", "- ", "!!", "&a", "*a", "1e308", "-1", "nan", "~", "<<: "}},
        {"tokenizer_json",
         stride_fuzz_tokenizer_json,
         20000,
         {"\"model\"", "\"vocab\"", "\"merges\"", "\"added_tokens\"", "\"pre_tokenizer\"", "\"type\"",
          "\"BPE\"", "\"ByteLevel\"", "\"Split\"", "\"pattern\"", "\"Regex\"", "\\u0000", "-1", "null"}},
        {"jinja",
         stride_fuzz_jinja,
         40000,
         {"{{",
          "}}",
          "{%",
          "%}",
          "{#",
          "#}",
          "for ",
          " in ",
          "endfor",
          "if ",
          "endif",
          "set ",
          "macro ",
          "endmacro",
          "|",
          "loop.",
          "messages",
          "[-1]",
          "range(",
          "tojson",
          "~",
          "**",
          "raise_exception("}},
        {"jsonl",
         stride_fuzz_jsonl,
         40000,
         {"\"prompt\"", "\"answer\"", "\"role\"", "\"content\"", "[", "]", "{", "}", "null", "\\ud800",
          "1e999"}},
        {"envelope", stride_fuzz_envelope, 200000, {"\x08", "\x10", "\x12", "\x6a", "\xff\xff\xff\xff\x0f"}},
        {"math_answer",
         stride_fuzz_math_answer,
         100000,
         {"\\boxed{", "\\frac{", "}", "^{", "\\sqrt", "\\infty", "####", "$", "\\left(", "\\right)",
          "1e99999", "/0", "\\pi", "%", ","}},
        {"code_label",
         stride_fuzz_code_label,
         100000,
         {"\"inputs\"", "\"outputs\"", "\"fn_name\"", "\"tests\"", "\"input\"", "\"output\"", "```python\n",
          "```", "[", "]"}},
        // The message handlers: each input is a request to the real server over loopback TCP, then a
        // probe it must answer (tests/fuzz/fuzz_peer.h), so these run fewer mutants.
        {"buffer_request", stride_fuzz_buffer_request, 10000, kEnvelopeWords},
        {"registry_request", stride_fuzz_registry_request, 6000, kEnvelopeWords},
        {"dispatcher_request", stride_fuzz_dispatcher_request, 10000, kEnvelopeWords},
        {"weight_serve", stride_fuzz_weight_serve, 6000, kEnvelopeWords},
        {"reward_reply",
         stride_fuzz_reward_reply,
         100000,
         {"\x08\x07", "\x10", "\x19", "\x20\x01", "\x2a\x01"}},
        {"checkpoint_index",
         stride_fuzz_checkpoint_index,
         1000,  // a fresh directory tree per input
         {"step_", "step_000010", ".tmp-1", "=", "/", ">..", ">/", " ", "\"step\"", "\"rl_seconds\"",
          "\"prompts_dispatched\"", "\"first_untrained_prompt\"", "-1", "1e308", "9223372036854775807"}},
    };
}

// Test names and failure messages show the target's name, not its bytes.
void PrintTo(const FuzzTarget& t, std::ostream* os) {
    *os << t.name;
}

class Fuzz : public ::testing::TestWithParam<FuzzTarget> {
   protected:
    // Protobuf logs every string field that is not UTF-8; thousands of such lines say nothing here.
    google::protobuf::LogSilencer quiet_;
};

TEST_P(Fuzz, EveryInputIsAcceptedOrRefusedWithAnError) {
    const FuzzTarget& t = GetParam();
    const std::vector<std::string> corpus = corpus_of(t.name);
    ASSERT_FALSE(corpus.empty()) << "no seeds in tests/fuzz/corpus/" << t.name;
    arm_crash_capture(t.name);
    auto run = [&](const std::string& input) {
        g_input = reinterpret_cast<const uint8_t*>(input.data());
        g_input_size = input.size();
        try {
            t.fn(g_input, g_input_size);
        } catch (const std::exception& e) {  // a target lets only success or stride::Error through
            std::ofstream(g_crash_path, std::ios::binary) << input;
            FAIL() << t.name << ": " << e.what() << " escaped (the input is in " << g_crash_path << ")";
        }
    };
    for (const std::string& seed : corpus) run(seed);
    Mutator m(/*seed=*/0x5eed0000u + t.name.size(), corpus, t.dictionary);
    for (int i = 0; i < t.mutants && !HasFailure(); ++i) run(m.next());
    g_input = nullptr;
    g_input_size = 0;
}

INSTANTIATE_TEST_SUITE_P(Parsers, Fuzz, ::testing::ValuesIn(targets()),
                         [](const ::testing::TestParamInfo<FuzzTarget>& info) { return info.param.name; });

}  // namespace
}  // namespace stride
