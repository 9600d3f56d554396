// The tojson filter: Python's json.dumps (ensure_ascii off unless asked, separators, indent,
// sort_keys), which is what transformers renders chat templates with.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        unsigned char c = s[i];
        if (c >= 0x80 && ensure_ascii) {
            size_t len;
            uint32_t cp = utf8_decode_at(s, i, &len);
            i += len;
            char b[16];
            if (cp >= 0x10000) {
                cp -= 0x10000;
                std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                std::snprintf(b, sizeof b, "\\u%04x", cp);
            }
            out += b;
            continue;
        }
        ++i;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", c);
                    out += b;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

}  // namespace

void Interpreter::to_json(std::string& out, const Value& v, const std::string* indent,
                          const std::string& item_sep, const std::string& key_sep, bool sort_keys,
                          bool ensure_ascii, int depth, Pos p) {
    step(p);
    if (depth > limits_.max_tree_depth)
        fail(p, "tojson: nesting deeper than " + std::to_string(limits_.max_tree_depth));
    auto newline = [&](int d) {
        if (!indent) return;
        out += '\n';
        for (int k = 0; k < d; ++k) out += *indent;
    };
    switch (v.kind) {
        case Value::Kind::none:
            out += "null";
            return;
        case Value::Kind::boolean:
            out += v.b ? "true" : "false";
            return;
        case Value::Kind::integer:
            out += std::to_string(v.i);
            return;
        case Value::Kind::floating:
            if (std::isnan(v.f))
                out += "NaN";
            else if (std::isinf(v.f))
                out += v.f > 0 ? "Infinity" : "-Infinity";
            else
                out += py_float(v.f);
            return;
        case Value::Kind::string:
            json_string(out, v.s, ensure_ascii);
            return;
        case Value::Kind::array: {
            if (v.a->empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < v.a->size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                to_json(out, (*v.a)[i], indent, item_sep, key_sep, sort_keys, ensure_ascii, depth + 1, p);
            }
            newline(depth);
            out += ']';
            check_size(out, p);
            return;
        }
        case Value::Kind::object: {
            if (v.o->is_namespace) break;
            if (v.o->items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<std::string, Value>*> items;
            for (const auto& kv : v.o->items) items.push_back(&kv);
            if (sort_keys)
                std::stable_sort(items.begin(), items.end(),
                                 [](auto* a, auto* b) { return a->first < b->first; });
            out += '{';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                json_string(out, items[i]->first, ensure_ascii);
                out += key_sep;
                to_json(out, items[i]->second, indent, item_sep, key_sep, sort_keys, ensure_ascii, depth + 1,
                        p);
            }
            newline(depth);
            out += '}';
            check_size(out, p);
            return;
        }
        default:
            break;
    }
    fail(p, std::string("tojson: a ") + kind_name(v.kind) + " is not JSON serializable");
}

}  // namespace stride::jinja
