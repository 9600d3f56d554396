// The verl side of `stride config from-verl`: a verl YAML and Hydra-style overrides into flat leaves,
// with OmegaConf's `${...}` interpolations resolved (the subset verl's configs use).
#include <yaml-cpp/yaml.h>

#include "common/base/error.h"
#include "common/verl_config.h"

namespace stride {

namespace {

VerlValue leaf_of(const YAML::Node& v) {
    VerlValue out;
    if (v.IsNull()) {
        out.is_null = true;
    } else if (v.IsSequence()) {
        out.is_list = true;
        for (const auto& item : v) {
            if (!item.IsScalar()) {
                out.opaque = true;
                continue;
            }
            out.items.push_back(item.Scalar());
        }
    } else {
        out.text = v.Scalar();
    }
    return out;
}

// Walks a mapping into dotted leaves; an empty mapping (`override_config: {}`) is no leaf.
void flatten(const YAML::Node& map, const std::string& prefix, VerlLeaves& out) {
    for (const auto& kv : map) {
        const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        if (kv.second.IsMap()) {
            flatten(kv.second, key, out);
            continue;
        }
        out[key] = leaf_of(kv.second);
    }
}

void erase_subtree(VerlLeaves& leaves, const std::string& key) {
    leaves.erase(key);
    const std::string prefix = key + ".";
    for (auto it = leaves.lower_bound(prefix); it != leaves.end() && it->first.rfind(prefix, 0) == 0;)
        it = leaves.erase(it);
}

// `key=value`, `+key=value`, `++key=value` (value as YAML: `[a,b]`, `'error'`, `{k: v}`), `~key`.
void apply_override(VerlLeaves& leaves, const std::string& o) {
    std::string text = o;
    if (text.rfind("~", 0) == 0) {  // `~key` or `~key=value`: delete
        const size_t eq = text.find('=');
        erase_subtree(leaves, text.substr(1, eq == std::string::npos ? std::string::npos : eq - 1));
        return;
    }
    while (!text.empty() && text.front() == '+') text.erase(0, 1);
    const size_t eq = text.find('=');
    STRIDE_CHECK(eq != std::string::npos && eq > 0, "override '" + o + "': expected key=value");
    const std::string key = text.substr(0, eq);
    YAML::Node value;
    try {
        value = YAML::Load(text.substr(eq + 1));
    } catch (const YAML::Exception& e) {
        throw Error("override '" + o + "': " + e.msg);
    }
    erase_subtree(leaves, key);
    if (value.IsMap()) {
        flatten(value, key, leaves);
        return;
    }
    leaves[key] = leaf_of(value);
}

// The value `${expr}` refers to, from the leaf at `key` (for relative `.sibling` paths); nullptr when
// it names nothing and has no default.
const VerlValue* interpolated(const VerlLeaves& leaves, const std::string& key, std::string expr,
                              VerlValue& fallback) {
    std::string dflt;
    bool has_default = false;
    if (expr.rfind("oc.select:", 0) == 0) {
        expr = expr.substr(10);
        const size_t comma = expr.find(',');
        if (comma != std::string::npos) {
            dflt = expr.substr(comma + 1);
            expr = expr.substr(0, comma);
            has_default = true;
        }
    }
    if (expr.rfind('.', 0) == 0) {  // relative: a sibling of `key`
        const size_t dot = key.rfind('.');
        expr = (dot == std::string::npos ? "" : key.substr(0, dot + 1)) + expr.substr(1);
    }
    if (auto it = leaves.find(expr); it != leaves.end()) return &it->second;
    if (!has_default) return nullptr;
    try {
        fallback = leaf_of(YAML::Load(dflt));
    } catch (const YAML::Exception&) {
        fallback = VerlValue();
        fallback.text = dflt;
    }
    return &fallback;
}

// One pass over the leaves whose whole text is `${...}`; true when something changed.
bool resolve_pass(VerlLeaves& leaves) {
    bool changed = false;
    for (auto& [key, v] : leaves) {
        if (v.is_list || v.text.size() < 3 || v.text.rfind("${", 0) != 0 || v.text.back() != '}') continue;
        const std::string expr = v.text.substr(2, v.text.size() - 3);
        if (expr.find("${") != std::string::npos) continue;  // nested: left as text, reported unmapped
        VerlValue fallback;
        const VerlValue* target = interpolated(leaves, key, expr, fallback);
        if (!target || target == &v) continue;
        const VerlValue copy = *target;
        v = copy;
        changed = true;
    }
    return changed;
}

}  // namespace

VerlLeaves read_verl_config(const std::string& yaml_text, const std::string& source,
                            const std::vector<std::string>& overrides) {
    VerlLeaves leaves;
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw Error(source + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
    }
    if (!root.IsNull()) {
        STRIDE_CHECK(root.IsMap(), source + ": expected a mapping of keys at the top level");
        flatten(root, "", leaves);
    }
    for (const std::string& o : overrides) apply_override(leaves, o);
    // Chains (${a} -> ${b} -> value) take one pass per link; a cycle stops at the bound.
    for (int pass = 0; pass < 8 && resolve_pass(leaves); ++pass) {
    }
    return leaves;
}

}  // namespace stride
