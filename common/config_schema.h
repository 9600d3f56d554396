// The config schema: one table row per dotted key (field binding, doc, allowed values).
// Load, override, dump and the `stride config keys` Markdown table are all generated from it, so a
// key cannot exist in one of them and be missing from another.
#pragma once
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/config.h"

namespace stride {

// A field of JobConfig, reached through a capture-less lambda (one per row, see config_schema.cpp).
using ConfigField = std::variant<std::string& (*)(JobConfig&), int& (*)(JobConfig&), double& (*)(JobConfig&),
                                 bool& (*)(JobConfig&), std::vector<double>& (*)(JobConfig&)>;

// Closed/open numeric interval a value must fall in (also checked on each element of a list).
struct ConfigBounds {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    bool lo_open = false;
    bool hi_open = false;
    int list_len = 0;  // lists: exact element count (0: any)
};

// Another spelling of an allowed value (verl's "token-mean" for "token_mean"): accepted on load and
// stored as the value it stands for, so a dump and every reader see only our spelling.
struct ConfigAlias {
    std::string alias;
    std::string value;
};

struct ConfigKey {
    ConfigKey(std::string key_, ConfigField field_, std::string doc_, ConfigBounds bounds_ = {},
              std::vector<std::string> choices_ = {}, std::vector<ConfigAlias> aliases_ = {})
        : key(std::move(key_)),
          field(field_),
          doc(std::move(doc_)),
          bounds(bounds_),
          choices(std::move(choices_)),
          aliases(std::move(aliases_)) {}

    std::string key;  // dotted path, e.g. "trainer.lr"
    ConfigField field;
    std::string doc;                   // one line, no '|' (it lands in a Markdown table)
    ConfigBounds bounds;               // numbers and ints
    std::vector<std::string> choices;  // strings: allowed values (empty: any string)
    std::vector<ConfigAlias> aliases;  // other spellings of some choices, stored as the choice
};

// The table, in the order keys are dumped and documented.
const std::vector<ConfigKey>& config_schema();
// Allowed values of string keys that a higher layer defines (trainer.algorithm: the rows of the
// algorithm table, trainer/algorithm.h), handed in by the loader that knows them
// (scheduler/job_config.h: job_config_choices) rather than written into the schema here.
using ConfigChoices = std::map<std::string, std::vector<std::string>>;
// Throws Error "key: expected one of a, b, got \"value\"" when value is not among choices.
void check_config_choice(const std::string& key, const std::string& value,
                         const std::vector<std::string>& choices);
// `value` with an alias of the key replaced by the choice it stands for (unchanged otherwise).
std::string canonical_config_choice(const ConfigKey& k, const std::string& value);
// nullptr when no row has that key.
const ConfigKey* find_config_key(const std::string& key);
// The closest known key by edit distance, for "did you mean" hints ("" when nothing is close). Never
// crosses sections: `trainer.lrr` is compared with trainer's keys only, a misspelt section with the
// sections (`trainr.lr` -> `trainer.lr`), and a top-level name with top-level keys and sections, then
// with the last part of every key (`lr` -> `sft.lr`).
std::string suggest_config_key(const std::string& unknown);

// "string", "int", "number", "bool", "list of 2 numbers", "enum: sync, async" (with bounds).
std::string config_key_type(const ConfigKey& k, const ConfigChoices& layered = {});
// The value of the key in `cfg` as YAML scalar text (lists as "[0.9, 0.999]", empty string as "").
std::string config_value_text(const ConfigKey& k, const JobConfig& cfg);
// Parses `text` per the key's type and bounds into cfg. Throws Error "key: expected ..., got ...".
void set_config_value(const ConfigKey& k, JobConfig& cfg, const std::string& text);
void set_config_list(const ConfigKey& k, JobConfig& cfg, const std::vector<std::string>& items);
// Range/choice check of the current value; throws Error naming the key.
void check_config_value(const ConfigKey& k, const JobConfig& cfg);

// Shortest text that reads back to the same double, always marked as a float ("1.0", "1e-08").
std::string format_config_number(double x);

// Markdown table "| key | type | default | meaning |" of every key (`stride config keys`, README).
std::string config_keys_markdown(const ConfigChoices& layered = {});

}  // namespace stride
