// The filters of the subset (jinja.h lists them), as Python's Jinja defines them, and the argument
// helpers that filters and methods share.
#include <algorithm>
#include <cmath>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

const std::set<std::string> kFilters = {
    "trim",   "tojson",     "length",     "count",   "default", "d",      "upper",   "lower",
    "title",  "capitalize", "items",      "join",    "first",   "last",   "list",    "string",
    "int",    "float",      "abs",        "reverse", "sort",    "unique", "replace", "select",
    "reject", "selectattr", "rejectattr", "map",     "safe",    "indent", "dictsort"};

}  // namespace

const Value* Interpreter::arg(const Array& args, const Kwargs& kwargs, size_t i, const char* name) {
    if (i < args.size()) return &args[i];
    for (const auto& [k, v] : kwargs)
        if (k == name) return &v;
    return nullptr;
}

bool Interpreter::flag(const Array& args, const Kwargs& kwargs, size_t i, const char* name, bool dflt) {
    const Value* v = arg(args, kwargs, i, name);
    return v ? truthy(*v) : dflt;
}

std::string Interpreter::str_arg(const Array& args, const Kwargs& kwargs, size_t i, const char* name,
                                 const std::string& dflt, Pos p) {
    const Value* v = arg(args, kwargs, i, name);
    if (!v || v->is(Value::Kind::none)) return dflt;
    if (!v->is(Value::Kind::string)) fail(p, std::string("argument '") + name + "' must be a string");
    return v->s;
}

int64_t Interpreter::length(const Value& v, Pos p) {
    switch (v.kind) {
        case Value::Kind::undefined:
            return 0;
        case Value::Kind::string:
            return static_cast<int64_t>(char_starts(v.s).size());
        case Value::Kind::array:
            return static_cast<int64_t>(v.a->size());
        case Value::Kind::object:
            if (!v.o->is_namespace) return static_cast<int64_t>(v.o->items.size());
            break;
        default:
            break;
    }
    fail(p, std::string("a ") + kind_name(v.kind) + " has no length");
}

Value Interpreter::attribute_path(const Value& item, const std::string& path, Pos p) {
    Value cur = item;
    size_t start = 0;
    while (start <= path.size()) {
        size_t dot = path.find('.', start);
        if (dot == std::string::npos) dot = path.size();
        std::string part = path.substr(start, dot - start);
        bool numeric = !part.empty() &&
                       std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (cur.is(Value::Kind::undefined)) return cur;
        cur = numeric && cur.is(Value::Kind::array)
                  ? get_item(cur, Value::integer(std::stoll(part)), p, "the item")
                  : get_item(cur, Value::string(part), p, "the item");
        start = dot + 1;
    }
    return cur;
}

Value Interpreter::apply_filter(const std::string& f, const Value& in, Array& args, Kwargs& kwargs, Pos p) {
    auto need = [&](Value::Kind k) {
        if (!in.is(k))
            fail(p, "filter '" + f + "' expects a " + kind_name(k) + ", got a " + kind_name(in.kind));
    };
    auto as_text = [&]() -> std::string {
        if (in.is(Value::Kind::string)) return in.s;
        return to_str(in);
    };
    if (f == "safe") return in;
    if (f == "trim") {
        std::u32string chars;
        const Value* c = arg(args, kwargs, 0, "chars");
        bool has = c && c->is(Value::Kind::string);
        if (has) chars = to_u32(c->s);
        std::string s = as_text();
        return Value::string(rstrip_ws(lstrip_ws(s, has ? &chars : nullptr), has ? &chars : nullptr));
    }
    if (f == "tojson") {
        const Value* ind = arg(args, kwargs, 0, "indent");
        std::string indent_str;
        const std::string* indent = nullptr;
        if (ind && ind->is(Value::Kind::integer)) {
            indent_str = std::string(std::max<int64_t>(0, std::min<int64_t>(ind->i, 64)), ' ');
            indent = &indent_str;
        } else if (ind && ind->is(Value::Kind::string)) {
            indent_str = ind->s;
            indent = &indent_str;
        }
        std::string item_sep = indent ? "," : ", ", key_sep = ": ";
        if (const Value* sep = arg(args, kwargs, 99, "separators"); sep && sep->is(Value::Kind::array)) {
            if (sep->a->size() != 2 || !(*sep->a)[0].is(Value::Kind::string) ||
                !(*sep->a)[1].is(Value::Kind::string))
                fail(p, "tojson: separators must be two strings");
            item_sep = (*sep->a)[0].s;
            key_sep = (*sep->a)[1].s;
        }
        std::string out;
        to_json(out, in, indent, item_sep, key_sep, flag(args, kwargs, 99, "sort_keys", false),
                flag(args, kwargs, 99, "ensure_ascii", false), 0, p);
        return Value::string(std::move(out));
    }
    if (f == "length" || f == "count") return Value::integer(length(in, p));
    if (f == "default" || f == "d") {
        const Value* dv = arg(args, kwargs, 0, "default_value");
        bool boolean = flag(args, kwargs, 1, "boolean", false);
        if (in.is(Value::Kind::undefined) || (boolean && !truthy(in))) return dv ? *dv : Value::string("");
        return in;
    }
    if (f == "upper") return Value::string(upper_ascii(as_text()));
    if (f == "lower") return Value::string(lower_ascii(as_text()));
    if (f == "title") return Value::string(title_case(as_text()));
    if (f == "capitalize") return Value::string(capitalize(as_text()));
    if (f == "string") return Value::string(to_str(in));
    if (f == "items" || f == "dictsort") {
        if (in.is(Value::Kind::undefined)) return Value::array();
        need(Value::Kind::object);
        Array out;
        for (const auto& [k, v] : in.o->items) out.push_back(Value::array({Value::string(k), v}));
        if (f == "dictsort") {
            bool cs = flag(args, kwargs, 0, "case_sensitive", false);
            std::stable_sort(out.begin(), out.end(), [&](const Value& a, const Value& b) {
                return cs ? (*a.a)[0].s < (*b.a)[0].s : lower_ascii((*a.a)[0].s) < lower_ascii((*b.a)[0].s);
            });
        }
        return Value::array(std::move(out));
    }
    if (f == "list") return Value::array(iterate(in, p));
    if (f == "join") {
        std::string sep = str_arg(args, kwargs, 0, "d", "", p);
        const Value* attr = arg(args, kwargs, 1, "attribute");
        std::string out;
        bool first = true;
        for (const Value& x : iterate(in, p)) {
            if (!first) out += sep;
            first = false;
            out += to_str(attr && attr->is(Value::Kind::string) ? attribute_path(x, attr->s, p) : x);
            check_size(out, p);
        }
        return Value::string(std::move(out));
    }
    if (f == "first" || f == "last") {
        Array items = iterate(in, p);
        if (items.empty()) return Value();
        return f == "first" ? items.front() : items.back();
    }
    if (f == "int" || f == "float") {
        const Value* dv = arg(args, kwargs, 0, "default");
        Value dflt = dv ? *dv : (f == "int" ? Value::integer(0) : Value::floating(0));
        double d = 0;
        if (in.is_number()) {
            d = as_double(in);
            if (f == "int" && !in.is(Value::Kind::floating)) return Value::integer(as_int(in));
        } else if (in.is(Value::Kind::string)) {
            std::string s = rstrip_ws(lstrip_ws(in.s));
            size_t used = 0;
            try {
                if (f == "int") {
                    int64_t i = std::stoll(s, &used, 10);
                    if (used == s.size()) return Value::integer(i);
                }
                d = std::stod(s, &used);
                if (used != s.size()) return dflt;
            } catch (const std::exception&) {
                return dflt;
            }
        } else {
            return dflt;
        }
        if (f == "float") return Value::floating(d);
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return dflt;
        return Value::integer(static_cast<int64_t>(d));
    }
    if (f == "abs") {
        if (!in.is_number())
            fail(p, std::string("filter 'abs' expects a number, got a ") + kind_name(in.kind));
        if (in.is(Value::Kind::floating)) return Value::floating(std::fabs(in.f));
        return Value::integer(std::llabs(as_int(in)));
    }
    if (f == "reverse") {
        if (in.is(Value::Kind::string)) {
            Array chars = iterate(in, p);
            std::string out;
            for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->s;
            return Value::string(std::move(out));
        }
        Array items = iterate(in, p);
        std::reverse(items.begin(), items.end());
        return Value::array(std::move(items));
    }
    if (f == "sort" || f == "unique") {
        Array items = iterate(in, p);
        bool cs = flag(args, kwargs, f == "sort" ? 1 : 0, "case_sensitive", false);
        const Value* attr = arg(args, kwargs, f == "sort" ? 2 : 1, "attribute");
        auto key = [&](const Value& x) {
            Value k = attr && attr->is(Value::Kind::string) ? attribute_path(x, attr->s, p) : x;
            if (!cs && k.is(Value::Kind::string)) k.s = lower_ascii(k.s);
            return k;
        };
        if (f == "unique") {
            Array out, seen;
            for (const Value& x : items) {
                Value k = key(x);
                if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
                    seen.push_back(k);
                    out.push_back(x);
                }
            }
            return Value::array(std::move(out));
        }
        bool rev = flag(args, kwargs, 0, "reverse", false);
        std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
            int o = order(key(a), key(b), p);
            return rev ? o > 0 : o < 0;
        });
        return Value::array(std::move(items));
    }
    if (f == "replace") {
        need(Value::Kind::string);
        Array margs = args;
        return call_method(in, "replace", margs, kwargs, p);
    }
    if (f == "selectattr" || f == "rejectattr") {
        if (args.empty() || !args[0].is(Value::Kind::string)) fail(p, f + " needs an attribute name");
        Array out;
        for (const Value& x : iterate(in, p)) {
            Value a = attribute_path(x, args[0].s, p);
            bool r;
            if (args.size() > 1) {
                if (!args[1].is(Value::Kind::string) || !known_test(args[1].s))
                    fail(p, f + ": test '" + to_str(args[1]) + "' is not supported (Stride's Jinja subset)");
                Array targs(args.begin() + 2, args.end());
                r = apply_test(args[1].s, a, targs, p);
            } else {
                r = truthy(a);
            }
            if (r == (f == "selectattr")) out.push_back(x);
        }
        return Value::array(std::move(out));
    }
    if (f == "select" || f == "reject") {
        Array out;
        for (const Value& x : iterate(in, p)) {
            bool r;
            if (!args.empty()) {
                if (!args[0].is(Value::Kind::string) || !known_test(args[0].s))
                    fail(p, f + ": test '" + to_str(args[0]) + "' is not supported (Stride's Jinja subset)");
                Array targs(args.begin() + 1, args.end());
                r = apply_test(args[0].s, x, targs, p);
            } else {
                r = truthy(x);
            }
            if (r == (f == "select")) out.push_back(x);
        }
        return Value::array(std::move(out));
    }
    if (f == "map") {
        Array out;
        if (const Value* attr = arg(args, kwargs, 99, "attribute")) {
            if (!attr->is(Value::Kind::string)) fail(p, "map: attribute must be a string");
            const Value* dv = arg(args, kwargs, 99, "default");
            for (const Value& x : iterate(in, p)) {
                Value v = attribute_path(x, attr->s, p);
                out.push_back(v.is(Value::Kind::undefined) && dv ? *dv : v);
            }
            return Value::array(std::move(out));
        }
        if (args.empty() || !args[0].is(Value::Kind::string))
            fail(p, "map needs a filter name or attribute=");
        std::string name = args[0].s;
        if (!known_filter(name) || name == "map")
            fail(p, "map: filter '" + name + "' is not supported (Stride's Jinja subset)");
        Array rest(args.begin() + 1, args.end());
        for (const Value& x : iterate(in, p)) {
            Array a = rest;
            Kwargs k = kwargs;
            out.push_back(apply_filter(name, x, a, k, p));
        }
        return Value::array(std::move(out));
    }
    if (f == "indent") {
        const Value* w = arg(args, kwargs, 0, "width");
        std::string ind =
            w && w->is(Value::Kind::string)
                ? w->s
                : std::string(w && w->is(Value::Kind::integer) ? std::clamp<int64_t>(w->i, 0, 256) : 4, ' ');
        bool first = flag(args, kwargs, 1, "first", false), blank = flag(args, kwargs, 2, "blank", false);
        std::string s = as_text();
        std::vector<std::string> lines;
        size_t start = 0;
        while (true) {
            size_t nl = s.find('\n', start);
            if (nl == std::string::npos) {
                if (start < s.size()) lines.push_back(s.substr(start));
                break;
            }
            lines.push_back(s.substr(start, nl - start));
            start = nl + 1;
        }
        std::string out;
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i) out += '\n';
            if ((i > 0 || first) && (blank || !lines[i].empty())) out += ind;
            out += lines[i];
        }
        if (lines.empty() && first) out = ind;
        check_size(out, p);
        return Value::string(std::move(out));
    }
    fail(p, "filter '" + f + "' is not supported (Stride's Jinja subset)");
}

bool known_filter(const std::string& name) {
    return kFilters.count(name) > 0;
}

}  // namespace stride::jinja
