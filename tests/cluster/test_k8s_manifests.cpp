// ops/k8s, checked offline (issue #18; no cluster here): tests/cluster/k8s_validate.py deserialises
// every manifest into its Kubernetes 1.22 model (python3-kubernetes), refuses unknown fields and wrong
// types, and checks Stride's rules (the ConfigMap's job passes `stride config check`, rollout replicas
// = rollout.workers, every role registers at the scheduler Service, scrape annotations, GPUs, PVCs).
// Broken copies must be refused. About 3 s.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

namespace fs = std::filesystem;

const std::string kValidate = "/usr/bin/python3 " STRIDE_SOURCE_DIR "/tests/cluster/k8s_validate.py ";

std::string validate(const std::string& dir, int& status) {
    return run_capture(kValidate + STRIDE_BIN " " STRIDE_SOURCE_DIR " " + dir + " 2>&1", status);
}

// A copy of ops/k8s with the first match of the regex `from` replaced by `to` in `file`.
std::string broken_copy(const std::string& name, const std::string& file, const std::string& from,
                        const std::string& to) {
    const std::string dir = cluster_scratch("k8s-" + name);
    fs::copy(STRIDE_SOURCE_DIR "/ops/k8s", dir, fs::copy_options::recursive);
    const std::string text = slurp(dir + "/" + file);
    EXPECT_TRUE(std::regex_search(text, std::regex(from))) << file << " has no '" << from << "'";
    std::ofstream(dir + "/" + file) << std::regex_replace(text, std::regex(from), to,
                                                          std::regex_constants::format_first_only);
    return dir;
}

TEST(K8sManifests, PassTheSchemaAndStrideChecks) {
    int status = 0;
    const std::string out = validate(STRIDE_SOURCE_DIR "/ops/k8s", status);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    EXPECT_NE(out.find("0 problems"), std::string::npos) << out;
}

TEST(K8sManifests, TheCheckerCatchesBrokenDocuments) {
    int status = 0;
    EXPECT_EQ(run_capture(kValidate + "--self-test 2>&1", status), "k8s_validate self-test: ok\n");
    struct Case {
        std::string name, file, from, to, expect;
    };
    const Case cases[] = {
        {"field", "buffer.yaml", "serviceName:", "serviceNam:", "serviceNam: unknown field"},
        {"type", "services.yaml", "port: 7400,", "port: \"7400\",", "expected int"},
        {"replicas", "rollout.yaml", "replicas: 2", "replicas: 3", "!= rollout.workers 2"},
        {"gpu", "trainer.yaml", "limits: \\{memory: 64Gi, nvidia.com/gpu: \"1\"\\}", "limits: {memory: 64Gi}",
         "trainer must request nvidia.com/gpu"},
        {"config", "configmap.yaml", "lr: 1.0e-4", "lr: -1", "trainer.lr"},
        {"keys_mount", "rollout.yaml", "- \\{name: keys, mountPath: /etc/stride-keys, readOnly: true\\}", "",
         "must mount the key set"},
        {"keys_mode", "trainer.yaml", "defaultMode: 0400", "defaultMode: 0444", "lets group or others read"},
        {"no_curve", "configmap.yaml", "auth: curve, ", "unauthenticated: true, ",
         "network.auth must be curve"},
    };
    for (const Case& c : cases) {
        const std::string dir = broken_copy(c.name, c.file, c.from, c.to);
        const std::string out = validate(dir, status);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << c.name << ": " << out;
        EXPECT_NE(out.find(c.expect), std::string::npos) << c.name << ": " << out;
        fs::remove_all(dir);
    }
}

}  // namespace
}  // namespace stride::test
