// Python's string methods (startswith, split, strip, ...) and dict methods (items, keys, values, get)
// on code points, as Python strings are.
#include <algorithm>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

const std::set<std::string> kStringMethods = {"startswith", "endswith", "split", "rsplit", "strip",
                                              "lstrip",     "rstrip",   "upper", "lower",  "title",
                                              "capitalize", "replace",  "find",  "count",  "join"};
const std::set<std::string> kDictMethods = {"items", "keys", "values", "get"};

}  // namespace

Value Interpreter::split(const std::string& s, const Value* sepv, int64_t maxsplit, bool from_right, Pos p) {
    Array parts;
    if (!sepv || sepv->is(Value::Kind::none)) {
        // Runs of whitespace separate; leading/trailing whitespace yields no empty parts.
        std::vector<std::pair<size_t, size_t>> words;  // byte ranges
        size_t i = 0, start = std::string::npos;
        while (i < s.size()) {
            size_t len;
            uint32_t c = utf8_decode_at(s, i, &len);
            if (is_py_space(c)) {
                if (start != std::string::npos) words.emplace_back(start, i);
                start = std::string::npos;
            } else if (start == std::string::npos) {
                start = i;
            }
            i += len;
        }
        if (start != std::string::npos) words.emplace_back(start, s.size());
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) > maxsplit) {
            if (!from_right) {
                for (int64_t k = 0; k < maxsplit; ++k)
                    parts.push_back(
                        Value::string(s.substr(words[k].first, words[k].second - words[k].first)));
                parts.push_back(Value::string(s.substr(words[maxsplit].first)));  // keeps its tail
            } else {
                size_t keep = words.size() - maxsplit;
                parts.push_back(Value::string(s.substr(0, words[keep - 1].second)));  // keeps its head
                for (size_t k = keep; k < words.size(); ++k)
                    parts.push_back(
                        Value::string(s.substr(words[k].first, words[k].second - words[k].first)));
            }
            return Value::array(std::move(parts));
        }
        for (auto [a, b] : words) parts.push_back(Value::string(s.substr(a, b - a)));
        return Value::array(std::move(parts));
    }
    if (!sepv->is(Value::Kind::string)) fail(p, "split(): the separator must be a string");
    const std::string& sep = sepv->s;
    if (sep.empty()) fail(p, "split(): empty separator");
    std::vector<std::string> all;
    size_t start = 0;
    while (true) {
        size_t at = s.find(sep, start);
        if (at == std::string::npos) break;
        all.push_back(s.substr(start, at - start));
        start = at + sep.size();
    }
    all.push_back(s.substr(start));
    if (maxsplit >= 0 && static_cast<int64_t>(all.size()) > maxsplit + 1) {
        std::vector<std::string> merged;
        if (!from_right) {
            merged.assign(all.begin(), all.begin() + maxsplit);
            std::string rest;
            for (size_t k = maxsplit; k < all.size(); ++k)
                rest += (k > static_cast<size_t>(maxsplit) ? sep : "") + all[k];
            merged.push_back(rest);
        } else {
            size_t keep = all.size() - maxsplit;
            std::string head;
            for (size_t k = 0; k < keep; ++k) head += (k ? sep : "") + all[k];
            merged.push_back(head);
            merged.insert(merged.end(), all.begin() + keep, all.end());
        }
        all = std::move(merged);
    }
    check_size(all.size(), p);
    for (auto& x : all) parts.push_back(Value::string(std::move(x)));
    return Value::array(std::move(parts));
}

Value Interpreter::call_method(const Value& obj, const std::string& m, Array& args, Kwargs& kwargs, Pos p) {
    if (obj.is(Value::Kind::string) && kStringMethods.count(m)) {
        const std::string& s = obj.s;
        if (m == "startswith" || m == "endswith") {
            const Value* a = arg(args, kwargs, 0, "prefix");
            if (!a) fail(p, m + "() needs an argument");
            Array cands = a->is(Value::Kind::array) ? *a->a : Array{*a};
            for (const Value& c : cands) {
                if (!c.is(Value::Kind::string)) fail(p, m + "() takes a string or a tuple of strings");
                if (m == "startswith" ? s.starts_with(c.s) : s.ends_with(c.s)) return Value::boolean(true);
            }
            return Value::boolean(false);
        }
        if (m == "split" || m == "rsplit") {
            const Value* ms = arg(args, kwargs, 1, "maxsplit");
            return split(s, arg(args, kwargs, 0, "sep"), ms && ms->is(Value::Kind::integer) ? ms->i : -1,
                         m == "rsplit", p);
        }
        if (m == "strip" || m == "lstrip" || m == "rstrip") {
            const Value* c = arg(args, kwargs, 0, "chars");
            std::u32string chars;
            bool has = c && c->is(Value::Kind::string);
            if (has) chars = to_u32(c->s);
            const std::u32string* cp = has ? &chars : nullptr;
            if (m == "lstrip") return Value::string(lstrip_ws(s, cp));
            if (m == "rstrip") return Value::string(rstrip_ws(s, cp));
            return Value::string(rstrip_ws(lstrip_ws(s, cp), cp));
        }
        if (m == "upper") return Value::string(upper_ascii(s));
        if (m == "lower") return Value::string(lower_ascii(s));
        if (m == "title") return Value::string(title_case(s));
        if (m == "capitalize") return Value::string(capitalize(s));
        if (m == "replace") {
            const Value* a = arg(args, kwargs, 0, "old");
            const Value* b = arg(args, kwargs, 1, "new");
            if (!a || !b || !a->is(Value::Kind::string) || !b->is(Value::Kind::string))
                fail(p, "replace() takes two strings");
            const Value* c = arg(args, kwargs, 2, "count");
            int64_t count = c && c->is(Value::Kind::integer) ? c->i : -1;
            std::string out;
            if (a->s.empty()) {  // Python inserts `new` between every character
                Array chars = iterate(obj, p);
                int64_t done = 0;
                for (const Value& ch : chars) {
                    if (count < 0 || done < count) {
                        out += b->s;
                        ++done;
                    }
                    out += ch.s;
                }
                if (count < 0 || done < count) out += b->s;
            } else {
                size_t start = 0;
                int64_t done = 0;
                while (count < 0 || done < count) {
                    size_t at = s.find(a->s, start);
                    if (at == std::string::npos) break;
                    out.append(s, start, at - start);
                    out += b->s;
                    check_size(out, p);
                    start = at + a->s.size();
                    ++done;
                }
                out.append(s, start);
            }
            check_size(out, p);
            return Value::string(std::move(out));
        }
        if (m == "find" || m == "count") {
            const Value* a = arg(args, kwargs, 0, "sub");
            if (!a || !a->is(Value::Kind::string)) fail(p, m + "() takes a string");
            if (m == "find") {
                size_t at = s.find(a->s);
                return Value::integer(
                    at == std::string::npos ? -1 : static_cast<int64_t>(char_starts(s.substr(0, at)).size()));
            }
            if (a->s.empty()) return Value::integer(length(obj, p) + 1);
            int64_t n = 0;
            for (size_t at = s.find(a->s); at != std::string::npos; at = s.find(a->s, at + a->s.size())) ++n;
            return Value::integer(n);
        }
        if (m == "join") {
            if (args.size() != 1) fail(p, "join() takes one argument");
            std::string out;
            bool first = true;
            for (const Value& x : iterate(args[0], p)) {
                if (!x.is(Value::Kind::string))
                    fail(p, std::string("join(): items must be strings, got a ") + kind_name(x.kind));
                if (!first) out += s;
                first = false;
                out += x.s;
                check_size(out, p);
            }
            return Value::string(std::move(out));
        }
    }
    if (obj.is(Value::Kind::object) && !obj.o->is_namespace && kDictMethods.count(m)) {
        Array out;
        if (m == "get") {
            const Value* k = arg(args, kwargs, 0, "key");
            if (!k) fail(p, "get() needs a key");
            const Value* v = k->is(Value::Kind::string) ? obj.o->find(k->s) : nullptr;
            if (v) return *v;
            const Value* d = arg(args, kwargs, 1, "default");
            return d ? *d : Value::none();
        }
        for (const auto& [k, v] : obj.o->items) {
            if (m == "items") out.push_back(Value::array({Value::string(k), v}));
            if (m == "keys") out.push_back(Value::string(k));
            if (m == "values") out.push_back(v);
        }
        return Value::array(std::move(out));
    }
    if (obj.is(Value::Kind::undefined)) fail(p, "cannot call '." + m + "()' on an undefined value");
    fail(p, std::string("a ") + kind_name(obj.kind) + " has no method '" + m + "()'");
}

bool known_method(const std::string& name) {
    return kStringMethods.count(name) > 0 || kDictMethods.count(name) > 0;
}

}  // namespace stride::jinja
