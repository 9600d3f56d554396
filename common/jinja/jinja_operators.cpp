// Operators with Python's semantics: arithmetic (integer overflow refused, floor division and
// modulo rounding down), `~`, string and list concatenation and repetition (bounded), `in`, ordering
// and comparison.
#include <algorithm>
#include <cmath>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

void Interpreter::bad_operands(const std::string& op, const Value& l, const Value& r, Pos p) {
    fail(p, "unsupported operands for '" + op + "': " + kind_name(l.kind) + " and " + kind_name(r.kind));
}

int64_t Interpreter::as_int(const Value& v) {
    return v.is(Value::Kind::integer) ? v.i : v.b;
}

double Interpreter::as_double(const Value& v) {
    return v.is(Value::Kind::floating) ? v.f : static_cast<double>(as_int(v));
}

Value Interpreter::binary(const std::string& op, const Value& l, const Value& r, Pos p) {
    if (op == "~") {
        std::string s = to_str(l) + to_str(r);
        check_size(s, p);
        return Value::string(std::move(s));
    }
    if (l.is_number() && r.is_number()) {
        bool fl = l.is(Value::Kind::floating) || r.is(Value::Kind::floating);
        if (op == "/") {
            if (as_double(r) == 0) fail(p, "division by zero");
            return Value::floating(as_double(l) / as_double(r));
        }
        if (fl) {
            double a = as_double(l), b = as_double(r);
            if (op == "+") return Value::floating(a + b);
            if (op == "-") return Value::floating(a - b);
            if (op == "*") return Value::floating(a * b);
            if (op == "**") return Value::floating(std::pow(a, b));
            if (b == 0) fail(p, "division by zero");
            if (op == "//") return Value::floating(std::floor(a / b));
            if (op == "%") {
                double m = std::fmod(a, b);
                if (m != 0 && ((m < 0) != (b < 0))) m += b;
                return Value::floating(m);
            }
        }
        int64_t a = as_int(l), b = as_int(r), out = 0;
        if (op == "+" && !__builtin_add_overflow(a, b, &out)) return Value::integer(out);
        if (op == "-" && !__builtin_sub_overflow(a, b, &out)) return Value::integer(out);
        if (op == "*" && !__builtin_mul_overflow(a, b, &out)) return Value::integer(out);
        if (op == "**") {
            if (b < 0) return Value::floating(std::pow(static_cast<double>(a), static_cast<double>(b)));
            int64_t acc = 1;
            for (int64_t k = 0; k < b; ++k) {
                step(p);
                if (__builtin_mul_overflow(acc, a, &acc)) fail(p, "integer overflow in '**'");
            }
            return Value::integer(acc);
        }
        if (op == "//" || op == "%") {
            if (b == 0) fail(p, "division by zero");
            if (a == INT64_MIN && b == -1) fail(p, "integer overflow");
            int64_t q = a / b, m = a % b;
            if (m != 0 && ((m < 0) != (b < 0))) {
                --q;
                m += b;
            }
            return Value::integer(op == "//" ? q : m);
        }
        fail(p, "integer overflow in '" + op + "'");
    }
    if (op == "+") {
        if (l.is(Value::Kind::string) && r.is(Value::Kind::string)) {
            std::string s = l.s + r.s;
            check_size(s, p);
            return Value::string(std::move(s));
        }
        if (l.is(Value::Kind::array) && r.is(Value::Kind::array)) {
            check_size(l.a->size() + r.a->size(), p);
            Array a = *l.a;
            a.insert(a.end(), r.a->begin(), r.a->end());
            return Value::array(std::move(a));
        }
    }
    if (op == "*") {
        const Value* seq = l.is(Value::Kind::integer) ? &r : &l;
        const Value* cnt = l.is(Value::Kind::integer) ? &l : &r;
        if (cnt->is(Value::Kind::integer) && (seq->is(Value::Kind::string) || seq->is(Value::Kind::array))) {
            int64_t n = std::max<int64_t>(0, cnt->i);
            if (seq->is(Value::Kind::string)) {
                if (!seq->s.empty() && static_cast<uint64_t>(n) > limits_.max_output_bytes / seq->s.size())
                    check_size(std::string(limits_.max_output_bytes + 1, ' '), p);
                std::string s;
                for (int64_t k = 0; k < n; ++k) s += seq->s;
                return Value::string(std::move(s));
            }
            if (!seq->a->empty() && static_cast<uint64_t>(n) > limits_.max_list_items / seq->a->size())
                check_size(limits_.max_list_items + 1, p);
            Array a;
            for (int64_t k = 0; k < n; ++k) a.insert(a.end(), seq->a->begin(), seq->a->end());
            return Value::array(std::move(a));
        }
    }
    bad_operands(op, l, r, p);
}

bool Interpreter::contains(const Value& container, const Value& item, Pos p) {
    switch (container.kind) {
        case Value::Kind::undefined:
            return false;
        case Value::Kind::string:
            if (!item.is(Value::Kind::string))
                fail(p,
                     std::string("'in <string>' needs a string on the left, got a ") + kind_name(item.kind));
            return container.s.find(item.s) != std::string::npos;
        case Value::Kind::array:
            for (const Value& x : *container.a)
                if (equal(x, item)) return true;
            return false;
        case Value::Kind::object:
            return item.is(Value::Kind::string) && !container.o->is_namespace && container.o->find(item.s);
        default:
            fail(p, std::string("'in' needs a string, list or dict on the right, got a ") +
                        kind_name(container.kind));
    }
}

// -1, 0, 1; Error when Python could not order the two.
int Interpreter::order(const Value& l, const Value& r, Pos p) {
    if (l.is_number() && r.is_number()) {
        double a = as_double(l), b = as_double(r);
        if (!l.is(Value::Kind::floating) && !r.is(Value::Kind::floating))
            return as_int(l) < as_int(r) ? -1 : as_int(l) > as_int(r);
        return a < b ? -1 : a > b;
    }
    if (l.is(Value::Kind::string) && r.is(Value::Kind::string)) return l.s < r.s ? -1 : l.s > r.s;
    fail(p, std::string("cannot order a ") + kind_name(l.kind) + " and a " + kind_name(r.kind));
}

bool Interpreter::compare(const std::string& op, const Value& l, const Value& r, Pos p) {
    charge(l, p);
    charge(r, p);
    if (op == "==") return equal(l, r);
    if (op == "!=") return !equal(l, r);
    if (op == "in") return contains(r, l, p);
    if (op == "not in") return !contains(r, l, p);
    int o = order(l, r, p);
    if (op == "<") return o < 0;
    if (op == "<=") return o <= 0;
    if (op == ">") return o > 0;
    return o >= 0;
}

}  // namespace stride::jinja
