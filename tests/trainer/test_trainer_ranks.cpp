// What rank 0 hands the other trainer ranks (trainer/trainer_ranks.h): a step's batch survives the
// encoding exactly and a damaged command is refused naming the problem; the starting state (weights,
// AdamW moments and step count, the KL reference) arrives whole in another process (forked; it uses
// only ZeroMQ and host arrays).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "tests/trainer/rl_test_util.h"
#include "trainer/trainer_ranks.h"

using namespace stride;
using namespace stride::test;

namespace {

RankCommand sample_command() {
    RankCommand c;
    c.policy_version = 41;
    for (int i = 0; i < 3; ++i) {
        Experience x;
        x.group = 100 + i / 2;
        x.prompt = {1, 2, 3 + i};
        x.response = std::vector<int>(static_cast<size_t>(i + 1), 7 + i);
        x.behaviour_logprob = std::vector<float>(x.response.size(), -0.25f * static_cast<float>(i + 1));
        x.token_version = std::vector<int64_t>(x.response.size(), 40 + i % 2);
        x.reward = 0.5 * i - 0.125;
        x.correct = i % 2 == 1;
        x.truncated = i == 2;
        c.batch.push_back(x);
    }
    return c;
}

bool same(const Experience& a, const Experience& b) {
    return a.group == b.group && a.prompt == b.prompt && a.response == b.response &&
           a.behaviour_logprob == b.behaviour_logprob && a.token_version == b.token_version &&
           a.reward == b.reward && a.correct == b.correct && a.truncated == b.truncated;
}

}  // namespace

TEST(TrainerRanks, AStepCommandRoundTripsExactly) {
    const RankCommand c = sample_command();
    const RankCommand d = decode_rank_command(encode_rank_command(c));
    EXPECT_FALSE(d.stop);
    EXPECT_EQ(d.policy_version, 41);
    ASSERT_EQ(d.batch.size(), c.batch.size());
    for (size_t i = 0; i < c.batch.size(); ++i) EXPECT_TRUE(same(d.batch[i], c.batch[i])) << i;
    EXPECT_TRUE(decode_rank_command(encode_rank_command({true, 0, {}})).stop);
}

TEST(TrainerRanks, ADamagedCommandIsRefusedNamingWhatIsWrong) {
    const std::string good = encode_rank_command(sample_command());
    auto error_of = [](const std::string& bytes) {
        try {
            decode_rank_command(bytes);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_NE(error_of(good.substr(0, good.size() - 3)).find("ends early"), std::string::npos);
    EXPECT_NE(error_of(good + "x").find("bytes after its last sample"), std::string::npos);
    std::string bad_magic = good;
    bad_magic[0] ^= 0x5a;
    EXPECT_NE(error_of(bad_magic).find("magic"), std::string::npos);
    EXPECT_NE(error_of("").find("ends early"), std::string::npos);
}

TEST(TrainerRanks, TheStartStateReachesAnotherRankWhole) {
    const std::string dir =
        (std::filesystem::temp_directory_path() / ("stride_start_" + std::to_string(getpid()))).string();
    std::filesystem::create_directories(dir);
    const std::string ep = "ipc://" + dir + "/group";
    Model model(tiny_config());
    model_init_random(model, 3);
    Model reference(tiny_config());
    model_init_random(reference, 4);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    if (pid == 0) {  // rank 1: receives, then writes weights | m | v | reference | step count
        close(fds[0]);
        std::string out;
        try {
            ZmqContext ctx;
            ZmqCollectiveOptions o;
            o.rank = 1, o.size = 2, o.endpoint = ep, o.group = "g", o.timeout_s = 30;
            ZmqCollective c(ctx, o);
            Model m(tiny_config()), ref(tiny_config());
            AdamW adam(m.data.size(), AdamWConfig{});
            const bool has_ref = receive_start(c, m, adam, ref);
            auto put = [&](const std::vector<float>& v) {
                out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
            };
            put(m.data), put(adam.m()), put(adam.v()), put(ref.data);
            out += " " + std::to_string(adam.step_count()) + " " + std::to_string(has_ref);
        } catch (const std::exception& e) {
            out = std::string("error: ") + e.what();
        }
        const ssize_t w = write(fds[1], out.data(), out.size());
        (void)w;
        _exit(0);
    }
    close(fds[1]);
    ZmqContext ctx;
    ZmqCollectiveOptions o;
    o.rank = 0, o.size = 2, o.endpoint = ep, o.group = "g", o.timeout_s = 30;
    ZmqCollective c(ctx, o);
    AdamW adam(model.data.size(), AdamWConfig{});
    std::vector<float> m(model.data.size()), v(model.data.size());
    for (size_t i = 0; i < m.size(); ++i) m[i] = 0.001f * static_cast<float>(i % 97), v[i] = 1e-6f * (i % 13);
    adam.set_moments(m.data(), v.data());
    adam.set_step_count(17);
    TrainerRanks(c, {&c, &c}).share_start(model, adam, &reference);
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(dir);
    const size_t n = model.data.size() * sizeof(float);
    ASSERT_EQ(got.size(), 4 * n + std::string(" 17 1").size()) << got.substr(0, 200);
    EXPECT_EQ(0, std::memcmp(got.data(), model.data.data(), n));
    EXPECT_EQ(0, std::memcmp(got.data() + n, m.data(), n));
    EXPECT_EQ(0, std::memcmp(got.data() + 2 * n, v.data(), n));
    EXPECT_EQ(0, std::memcmp(got.data() + 3 * n, reference.data.data(), n));
    EXPECT_EQ(got.substr(4 * n), " 17 1");
}
