// Loading, overriding, resolving and dumping JobConfig, all driven by the schema table.
#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/base/error.h"
#include "common/config_schema.h"
#include "common/verl_config.h"

namespace stride {

namespace {

// A value as the user wrote it, before typing: scalar text or list items, and where it came from.
struct RawValue {
    std::string text;
    std::vector<std::string> items;
    bool is_list = false;
    bool is_null = false;
    std::string where;  // "file.yaml:12" or "override"
};

using RawValues = std::map<std::string, RawValue>;

bool is_section(const std::string& path) {
    for (const auto& k : config_schema())
        if (k.key.size() > path.size() && k.key.compare(0, path.size(), path) == 0 &&
            k.key[path.size()] == '.')
            return true;
    return false;
}

std::string unknown_key_message(const std::string& key) {
    std::string msg = "unknown key '" + key + "'";
    if (std::string verl = verl_key_hint(key); !verl.empty()) return msg + ": " + verl;
    std::string hint = suggest_config_key(key);
    if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    return msg + "; `stride config keys` lists them all";
}

std::string node_kind(const YAML::Node& n) {
    if (n.IsMap()) return "a mapping";
    if (n.IsSequence()) return "a list";
    if (n.IsNull()) return "nothing (null)";
    return "\"" + n.Scalar() + "\"";
}

// Walks a YAML mapping into dotted keys. Dotted keys inside YAML (`trainer.lr: 1e-4`) work too.
void flatten(const YAML::Node& map, const std::string& prefix, const std::string& source, RawValues& out) {
    for (const auto& kv : map) {
        std::string where = source + ":" + std::to_string(kv.first.Mark().line + 1);
        STRIDE_CHECK(kv.first.IsScalar(), where + ": keys must be plain names");
        std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        const YAML::Node& v = kv.second;
        const ConfigKey* key = find_config_key(path);
        if (!key) {
            STRIDE_CHECK(is_section(path), where + ": " + unknown_key_message(path));
            if (v.IsNull()) continue;  // an empty section (`sft:` with nothing under it)
            STRIDE_CHECK(v.IsMap(),
                         where + ": " + path + ": expected a mapping of keys, got " + node_kind(v));
            flatten(v, path, source, out);
            continue;
        }
        RawValue raw;
        raw.where = where;
        if (v.IsMap()) throw Error(where + ": " + path + ": expected a value, got a mapping");
        if (v.IsSequence()) {
            raw.is_list = true;
            for (const auto& item : v) {
                STRIDE_CHECK(item.IsScalar(), where + ": " + path + ": list items must be numbers");
                raw.items.push_back(item.Scalar());
            }
        } else if (v.IsNull()) {
            raw.is_null = true;
        } else {
            raw.text = v.Scalar();
        }
        out[path] = raw;
    }
}

void apply_raw(JobConfig& cfg, const std::string& path, const RawValue& raw) {
    const ConfigKey& key = *find_config_key(path);
    try {
        if (raw.is_list) {
            set_config_list(key, cfg, raw.items);
        } else if (raw.is_null) {
            // `key:` with no value: allowed for strings ("" = not set), an error for typed keys.
            STRIDE_CHECK(key.field.index() == 0 && key.choices.empty(),
                         path + ": expected a value, got nothing");
            set_config_value(key, cfg, "");
        } else {
            set_config_value(key, cfg, raw.text);
        }
    } catch (const Error& e) {
        throw Error(raw.where + ": " + e.what());
    }
}

void check_model_source(const RawValues& given) {
    auto path = given.find("model.path");
    if (path == given.end() || path->second.text.empty()) return;
    for (const auto& [key, raw] : given)
        STRIDE_CHECK(key.rfind("model.init.", 0) != 0,
                     raw.where + ": " + key +
                         ": model.path is set, so model.init.* would be ignored; give one of them");
}

void apply_overrides(RawValues& given, const std::vector<std::string>& overrides) {
    for (const auto& o : overrides) {
        auto eq = o.find('=');
        STRIDE_CHECK(eq != std::string::npos && eq > 0, "override '" + o + "': expected key.sub=value");
        std::string key = o.substr(0, eq);
        STRIDE_CHECK(find_config_key(key), "override " + o + ": " + unknown_key_message(key));
        RawValue raw;
        raw.text = o.substr(eq + 1);
        raw.where = "override " + o;
        given[key] = raw;
    }
}

}  // namespace

ConfigInput read_job_config(const std::string& yaml_text, const std::string& source,
                            const std::vector<std::string>& overrides) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw Error(source + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
    }
    RawValues given;
    if (!root.IsNull()) {
        STRIDE_CHECK(root.IsMap(), source + ": expected a mapping of keys at the top level");
        flatten(root, "", source, given);
    }
    apply_overrides(given, overrides);
    ConfigInput in;
    check_model_source(given);
    for (const auto& k : config_schema()) {  // schema order: deterministic, first error is the first key
        auto it = given.find(k.key);
        if (it == given.end()) continue;
        apply_raw(in.cfg, k.key, it->second);
        in.given.insert(k.key);
    }
    return in;
}

std::string read_job_config_file(const std::string& path) {
    std::ifstream in(path);
    STRIDE_CHECK(in, path + ": cannot open config file");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void preset_config_value(ConfigInput& in, const std::string& key, const std::string& value) {
    const ConfigKey* k = find_config_key(key);
    STRIDE_CHECK(k, "preset of unknown key '" + key + "'");
    if (!in.given.count(key)) set_config_value(*k, in.cfg, value);
}

void resolve_derived_values(JobConfig& cfg) {
    if (cfg.trainer.temperature == 0.0) cfg.trainer.temperature = cfg.rollout.temperature;
}

std::string dump_job_config(const JobConfig& cfg) {
    return dump_job_config_keys(cfg, {});
}

std::string dump_job_config_keys(const JobConfig& cfg, const std::set<std::string>& only) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    std::vector<std::string> open;  // sections currently open, outermost first
    for (const auto& k : config_schema()) {
        // With a checkpoint the init block means nothing, and loading both is an error.
        if (!cfg.model.path.empty() && k.key.rfind("model.init.", 0) == 0) continue;
        if (!only.empty() && !only.count(k.key)) continue;
        std::vector<std::string> parts;
        std::stringstream ss(k.key);
        for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
        size_t common = 0;
        while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
        while (open.size() > common) out << YAML::EndMap, open.pop_back();
        while (open.size() + 1 < parts.size()) {
            out << YAML::Key << parts[open.size()] << YAML::Value << YAML::BeginMap;
            open.push_back(parts[open.size()]);
        }
        out << YAML::Key << parts.back() << YAML::Value;
        std::string text = config_value_text(k, cfg);
        if (k.field.index() == 0) {
            out << (text == "\"\"" ? std::string() : text);
        } else if (k.field.index() == 4) {
            out << YAML::Flow << YAML::BeginSeq;
            for (double x : std::get<4>(k.field)(const_cast<JobConfig&>(cfg))) out << format_config_number(x);
            out << YAML::EndSeq;
        } else {
            out << text;
        }
        out << YAML::Comment(k.doc);
    }
    while (!open.empty()) out << YAML::EndMap, open.pop_back();
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace stride
