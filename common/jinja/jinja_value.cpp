// Runtime values of the Jinja subset: truthiness, equality, str()/repr() as Python prints them, and
// conversion from JSON.
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/base/error.h"
#include "common/jinja/jinja_ast.h"

namespace stride::jinja {

const Value* Object::find(const std::string& key) const {
    for (const auto& [k, v] : items)
        if (k == key) return &v;
    return nullptr;
}

void Object::set(const std::string& key, Value v) {
    for (auto& [k, old] : items)
        if (k == key) {
            old = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

const char* kind_name(Value::Kind k) {
    switch (k) {
        case Value::Kind::undefined:
            return "undefined";
        case Value::Kind::none:
            return "none";
        case Value::Kind::boolean:
            return "boolean";
        case Value::Kind::integer:
            return "integer";
        case Value::Kind::floating:
            return "float";
        case Value::Kind::string:
            return "string";
        case Value::Kind::array:
            return "list";
        case Value::Kind::object:
            return "dict";
        case Value::Kind::function:
            return "function";
    }
    return "?";
}

bool truthy(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined:
        case Value::Kind::none:
            return false;
        case Value::Kind::boolean:
            return v.b;
        case Value::Kind::integer:
            return v.i != 0;
        case Value::Kind::floating:
            return v.f != 0;
        case Value::Kind::string:
            return !v.s.empty();
        case Value::Kind::array:
            return !v.a->empty();
        case Value::Kind::object:
            return v.o->is_namespace || !v.o->items.empty();
        case Value::Kind::function:
            return true;
    }
    return false;
}

static double as_double(const Value& v) {
    return v.is(Value::Kind::floating)  ? v.f
           : v.is(Value::Kind::integer) ? static_cast<double>(v.i)
                                        : (v.b ? 1 : 0);
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (!a.is(Value::Kind::floating) && !b.is(Value::Kind::floating))
            return (a.is(Value::Kind::integer) ? a.i : a.b) == (b.is(Value::Kind::integer) ? b.i : b.b);
        return as_double(a) == as_double(b);
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Value::Kind::undefined:
        case Value::Kind::none:
            return true;
        case Value::Kind::string:
            return a.s == b.s;
        case Value::Kind::array:
            if (a.a->size() != b.a->size()) return false;
            for (size_t i = 0; i < a.a->size(); ++i)
                if (!equal((*a.a)[i], (*b.a)[i])) return false;
            return true;
        case Value::Kind::object:
            if (a.o == b.o) return true;
            if (a.o->is_namespace || b.o->is_namespace || a.o->items.size() != b.o->items.size())
                return false;
            for (const auto& [k, v] : a.o->items) {
                const Value* w = b.o->find(k);
                if (!w || !equal(v, *w)) return false;
            }
            return true;
        case Value::Kind::function:
            return a.fn == b.fn;
        default:
            return false;
    }
}

std::string py_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);  // shortest round trip: "-1.2345e+02"
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t e = sci.find('e');
    int exp = std::stoi(sci.substr(e + 1));
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits += c;
    std::string out;
    if (exp >= -4 && exp < 16) {  // Python's repr: fixed notation for 1e-4 <= |d| < 1e16
        if (exp < 0) {
            out = "0." + std::string(-exp - 1, '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exp + 1) {
            out = digits + std::string(exp + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    }
    return neg ? "-" + out : out;
}

static std::string repr_string(const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char q = has_single && !has_double ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        if (c == static_cast<unsigned char>(q) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7F) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + q;
}

std::string py_repr(const Value& v) {
    switch (v.kind) {
        case Value::Kind::string:
            return repr_string(v.s);
        case Value::Kind::undefined:
            return "Undefined";
        default:
            return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.kind) {
        case Value::Kind::undefined:
            return "";
        case Value::Kind::none:
            return "None";
        case Value::Kind::boolean:
            return v.b ? "True" : "False";
        case Value::Kind::integer:
            return std::to_string(v.i);
        case Value::Kind::floating:
            return py_float(v.f);
        case Value::Kind::string:
            return v.s;
        case Value::Kind::array: {
            std::string out = "[";
            for (size_t i = 0; i < v.a->size(); ++i) out += (i ? ", " : "") + py_repr((*v.a)[i]);
            return out + "]";
        }
        case Value::Kind::object: {
            if (v.o->is_namespace) return "<Namespace>";
            std::string out = "{";
            bool first = true;
            for (const auto& [k, x] : v.o->items) {
                out += (first ? "" : ", ") + repr_string(k) + ": " + py_repr(x);
                first = false;
            }
            return out + "}";
        }
        case Value::Kind::function:
            return "<function " + v.fn->name + ">";
    }
    return "";
}

Value from_json(const nlohmann::ordered_json& j, int max_depth) {
    if (max_depth < 0) throw Error("template context: JSON nested too deeply (Limits::max_tree_depth)");
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null:
            return Value::none();
        case nlohmann::ordered_json::value_t::boolean:
            return Value::boolean(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer:
            return Value::integer(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value::floating(static_cast<double>(u));
            return Value::integer(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float:
            return Value::floating(j.get<double>());
        case nlohmann::ordered_json::value_t::string:
            return Value::string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            Array a;
            a.reserve(j.size());
            for (const auto& x : j) a.push_back(from_json(x, max_depth - 1));
            return Value::array(std::move(a));
        }
        case nlohmann::ordered_json::value_t::object: {
            auto o = std::make_shared<Object>();
            for (const auto& [k, x] : j.items()) o->items.emplace_back(k, from_json(x, max_depth - 1));
            return Value::object(std::move(o));
        }
        default:
            throw Error("template context: unsupported JSON value (binary)");
    }
}

}  // namespace stride::jinja
