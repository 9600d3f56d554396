// The algorithm table (trainer/algorithm.h): its names are the allowed values of trainer.algorithm,
// each row's presets name real keys with values the schema accepts, and every row loads.
#include <gtest/gtest.h>

#include <set>

#include "common/base/error.h"
#include "common/config_schema.h"
#include "scheduler/job_config.h"
#include "trainer/algorithm.h"

namespace stride {
namespace {

const char* kMinimal = "tokenizer: tok.json\ndata:\n  train: gen:arith?n=1000&seed=1\n";

TEST(AlgorithmTable, NamesAreTheChoicesOfTrainerAlgorithm) {
    const std::vector<std::string> names = algorithm_names();
    EXPECT_EQ(job_config_choices().at("trainer.algorithm"), names);
    EXPECT_NE(config_keys_markdown(job_config_choices()).find("| `trainer.algorithm` | enum: grpo, "),
              std::string::npos);
    try {
        parse_job_config(kMinimal, "t.yaml", {"trainer.algorithm=grpoo"});
        ADD_FAILURE() << "a misspelt algorithm loaded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("trainer.algorithm: expected one of grpo, "), std::string::npos)
            << e.what();
    }
    const std::set<std::string> unique(names.begin(), names.end());
    EXPECT_EQ(unique.size(), algorithms().size());
}

TEST(AlgorithmTable, PresetsNameSchemaKeysWithValidValues) {
    for (const Algorithm& a : algorithms())
        for (const AlgorithmPreset& p : a.presets) {
            const ConfigKey* key = find_config_key(p.key);
            ASSERT_NE(key, nullptr) << a.name << ": " << p.key;
            JobConfig c;
            EXPECT_NO_THROW(set_config_value(*key, c, p.value)) << a.name << ": " << p.key;
        }
}

TEST(AlgorithmTable, EveryRowLoadsWithItsPresets) {
    for (const Algorithm& a : algorithms()) {
        const JobConfig c =
            parse_job_config(kMinimal, "t.yaml", {std::string("trainer.algorithm=") + a.name});
        EXPECT_EQ(&algorithm_named(c.trainer.algorithm), &a);
        for (const AlgorithmPreset& p : a.presets) {
            if (p.applies && !p.applies(c.trainer)) continue;
            EXPECT_EQ(config_value_text(*find_config_key(p.key), c),
                      config_value_text(*find_config_key(p.key),
                                        [&] {
                                            JobConfig v;
                                            set_config_value(*find_config_key(p.key), v, p.value);
                                            return v;
                                        }()))
                << a.name << ": " << p.key;
        }
    }
    EXPECT_THROW(algorithm_named("grpoo"), Error);
}

}  // namespace
}  // namespace stride
