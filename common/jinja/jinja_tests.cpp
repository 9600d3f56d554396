// The tests of the subset (`x is defined`, `n is divisibleby 3`, ...).
#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

const std::set<std::string> kTests = {
    "defined", "undefined", "none",     "string",      "number",   "integer", "float", "boolean", "true",
    "false",   "mapping",   "sequence", "iterable",    "callable", "odd",     "even",  "lower",   "upper",
    "eq",      "equalto",   "ne",       "divisibleby", "in",       "lt",      "le",    "gt",      "ge"};

}  // namespace

bool Interpreter::apply_test(const std::string& t, const Value& v, const Array& args, Pos p) {
    using K = Value::Kind;
    auto other = [&]() -> const Value& {
        if (args.empty()) fail(p, "test '" + t + "' needs an argument");
        return args[0];
    };
    if (t == "defined") return !v.is(K::undefined);
    if (t == "undefined") return v.is(K::undefined);
    if (t == "none") return v.is(K::none);
    if (t == "string") return v.is(K::string);
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is(K::integer);
    if (t == "float") return v.is(K::floating);
    if (t == "boolean") return v.is(K::boolean);
    if (t == "true") return v.is(K::boolean) && v.b;
    if (t == "false") return v.is(K::boolean) && !v.b;
    if (t == "mapping") return v.is(K::object) && !v.o->is_namespace;
    if (t == "sequence" || t == "iterable")
        return v.is(K::string) || v.is(K::array) || (v.is(K::object) && !v.o->is_namespace);
    if (t == "callable") return v.is(K::function);
    if (t == "odd" || t == "even") {
        if (!v.is(K::integer)) fail(p, "test '" + t + "' needs an integer, got a " + kind_name(v.kind));
        return (((v.i % 2) + 2) % 2 == 1) == (t == "odd");
    }
    if (t == "lower") return v.is(K::string) && lower_ascii(v.s) == v.s;
    if (t == "upper") return v.is(K::string) && upper_ascii(v.s) == v.s;
    if (t == "eq" || t == "equalto") return equal(v, other());
    if (t == "ne") return !equal(v, other());
    if (t == "in") return contains(other(), v, p);
    if (t == "lt") return order(v, other(), p) < 0;
    if (t == "le") return order(v, other(), p) <= 0;
    if (t == "gt") return order(v, other(), p) > 0;
    if (t == "ge") return order(v, other(), p) >= 0;
    if (t == "divisibleby") {
        const Value& d = other();
        if (!v.is(K::integer) || !d.is(K::integer) || d.i == 0)
            fail(p, "test 'divisibleby' needs non-zero integers");
        return v.i % d.i == 0;
    }
    fail(p, "test '" + t + "' is not supported (Stride's Jinja subset)");
}

bool known_test(const std::string& name) {
    return kTests.count(name) > 0;
}

}  // namespace stride::jinja
