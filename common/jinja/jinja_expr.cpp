// Expressions: names, literals, attribute and item access, slicing, calls, and the dispatch of
// operators, filters, tests and methods; every evaluation counts its steps and size.
#include <algorithm>
#include <optional>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

// Work proportional to a value's size (copying it, comparing it) counts as steps: a string is a
// step per 32 bytes, a list or dict a step per item. So does a quadratic loop of appends.
void Interpreter::charge(const Value& v, Pos p) {
    if (v.is(Value::Kind::string)) steps_ += static_cast<int64_t>(v.s.size() / 32);
    if (v.is(Value::Kind::array)) steps_ += static_cast<int64_t>(v.a->size());
    if (v.is(Value::Kind::object)) steps_ += static_cast<int64_t>(v.o->items.size());
    step(p);
}

Value Interpreter::eval(const Expr& e, Scope& scope) {
    Value v = eval_node(e, scope);
    charge(v, e.pos);
    if (v.depth > limits_.max_tree_depth)
        fail(e.pos, "a value nested deeper than " + std::to_string(limits_.max_tree_depth) +
                        " levels (Limits::max_tree_depth)");
    return v;
}

Value Interpreter::eval_node(const Expr& e, Scope& scope) {
    step(e.pos);
    switch (e.kind) {
        case EK::literal:
            return e.value;
        case EK::name: {
            const Value* v = scope.find(e.name);
            return v ? *v : Value();
        }
        case EK::list:
        case EK::tuple: {
            Array a;
            for (const auto& x : e.args) a.push_back(eval(*x, scope));
            return Value::array(std::move(a));
        }
        case EK::dict: {
            auto o = std::make_shared<Object>();
            for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                Value k = eval(*e.args[i], scope);
                if (!k.is(Value::Kind::string))
                    fail(e.args[i]->pos,
                         std::string("dict keys must be strings, got a ") + kind_name(k.kind));
                o->set(k.s, eval(*e.args[i + 1], scope));
            }
            return Value::object(std::move(o));
        }
        case EK::attr:
            return get_attr(eval(*e.args[0], scope), e.name, e.pos, describe_expr(*e.args[0]));
        case EK::item:
            return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope), e.pos,
                            describe_expr(*e.args[0]));
        case EK::slice:
            return eval_slice(e, scope);
        case EK::call:
            return eval_call(e, scope);
        case EK::method: {
            Value obj = eval(*e.args[0], scope);
            Array args;
            Kwargs kwargs;
            eval_args(e, scope, 1, args, kwargs);
            return call_method(obj, e.name, args, kwargs, e.pos);
        }
        case EK::filter: {
            Value in = eval(*e.args[0], scope);
            Array args;
            Kwargs kwargs;
            eval_args(e, scope, 1, args, kwargs);
            return apply_filter(e.name, in, args, kwargs, e.pos);
        }
        case EK::test: {
            Value in = eval(*e.args[0], scope);
            Array args;
            Kwargs kwargs;
            eval_args(e, scope, 1, args, kwargs);
            bool r = apply_test(e.name, in, args, e.pos);
            return Value::boolean(e.negated ? !r : r);
        }
        case EK::unary: {
            Value v = eval(*e.args[0], scope);
            if (e.name == "not") return Value::boolean(!truthy(v));
            if (!v.is_number()) fail(e.pos, "unary '" + e.name + "' on a " + kind_name(v.kind));
            if (e.name == "+") return v.is(Value::Kind::boolean) ? Value::integer(v.b) : v;
            if (v.is(Value::Kind::floating)) return Value::floating(-v.f);
            return Value::integer(-(v.is(Value::Kind::integer) ? v.i : v.b));
        }
        case EK::binary: {
            if (e.name == "and") {
                Value l = eval(*e.args[0], scope);
                return truthy(l) ? eval(*e.args[1], scope) : l;
            }
            if (e.name == "or") {
                Value l = eval(*e.args[0], scope);
                return truthy(l) ? l : eval(*e.args[1], scope);
            }
            return binary(e.name, eval(*e.args[0], scope), eval(*e.args[1], scope), e.pos);
        }
        case EK::compare: {
            Value l = eval(*e.args[0], scope);
            for (size_t i = 0; i < e.ops.size(); ++i) {
                Value r = eval(*e.args[i + 1], scope);
                if (!compare(e.ops[i], l, r, e.args[i + 1]->pos)) return Value::boolean(false);
                l = std::move(r);
            }
            return Value::boolean(true);
        }
        case EK::ternary:
            if (truthy(eval(*e.args[1], scope))) return eval(*e.args[0], scope);
            return e.args[2] ? eval(*e.args[2], scope) : Value();
    }
    return Value();
}

std::string Interpreter::describe_expr(const Expr& e) {
    if (e.kind == EK::name) return "'" + e.name + "'";
    if (e.kind == EK::attr) return describe_expr(*e.args[0]) + "." + e.name;
    return "the value";
}

void Interpreter::eval_args(const Expr& e, Scope& scope, size_t from, Array& args, Kwargs& kwargs) {
    for (size_t i = from; i < e.args.size(); ++i) args.push_back(eval(*e.args[i], scope));
    for (size_t i = 0; i < e.kwargs.size(); ++i) kwargs.emplace_back(e.kwnames[i], eval(*e.kwargs[i], scope));
}

Value Interpreter::get_attr(const Value& obj, const std::string& name, Pos p, const std::string& what) {
    if (obj.is(Value::Kind::undefined)) fail(p, "cannot read '." + name + "': " + what + " is undefined");
    if (obj.is(Value::Kind::object)) {
        const Value* v = obj.o->find(name);
        return v ? *v : Value();
    }
    return Value();
}

Value Interpreter::get_item(const Value& obj, const Value& key, Pos p, const std::string& what) {
    if (obj.is(Value::Kind::undefined)) fail(p, "cannot index " + what + ": it is undefined");
    if (obj.is(Value::Kind::object)) {
        if (!key.is(Value::Kind::string)) return Value();
        const Value* v = obj.o->find(key.s);
        return v ? *v : Value();
    }
    if (obj.is(Value::Kind::array) || obj.is(Value::Kind::string)) {
        if (!key.is(Value::Kind::integer)) return Value();
        if (obj.is(Value::Kind::array)) {
            int64_t n = static_cast<int64_t>(obj.a->size());
            int64_t i = key.i < 0 ? key.i + n : key.i;
            return i >= 0 && i < n ? (*obj.a)[i] : Value();
        }
        std::vector<size_t> starts = char_starts(obj.s);
        int64_t n = static_cast<int64_t>(starts.size());
        int64_t i = key.i < 0 ? key.i + n : key.i;
        if (i < 0 || i >= n) return Value();
        size_t end = i + 1 < n ? starts[i + 1] : obj.s.size();
        return Value::string(obj.s.substr(starts[i], end - starts[i]));
    }
    return Value();
}

// Python's slice indices for a sequence of n elements.
std::vector<int64_t> Interpreter::slice_indices(int64_t n, const Value* start, const Value* stop,
                                                const Value* stepv, Pos p) {
    auto num = [&](const Value* v, const char* what) -> std::optional<int64_t> {
        if (!v || v->is(Value::Kind::none) || v->is(Value::Kind::undefined)) return std::nullopt;
        if (!v->is(Value::Kind::integer)) fail(p, std::string("slice ") + what + " must be an integer");
        return v->i;
    };
    int64_t st = num(stepv, "step").value_or(1);
    if (st == 0) fail(p, "slice step cannot be zero");
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
        if (!v) return dflt;
        int64_t x = *v < 0 ? *v + n : *v;
        if (st > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t b = clamp(num(start, "start"), st > 0 ? 0 : n - 1);
    int64_t e = clamp(num(stop, "stop"), st > 0 ? n : -1);
    std::vector<int64_t> out;
    for (int64_t i = b; st > 0 ? i < e : i > e; i += st) out.push_back(i);
    return out;
}

Value Interpreter::eval_slice(const Expr& e, Scope& scope) {
    Value obj = eval(*e.args[0], scope);
    Value parts[3];
    for (int k = 0; k < 3; ++k)
        if (e.args[k + 1]) parts[k] = eval(*e.args[k + 1], scope);
    auto part = [&](int k) -> const Value* { return e.args[k + 1] ? &parts[k] : nullptr; };
    if (obj.is(Value::Kind::array)) {
        Array out;
        for (int64_t i : slice_indices(static_cast<int64_t>(obj.a->size()), part(0), part(1), part(2), e.pos))
            out.push_back((*obj.a)[i]);
        return Value::array(std::move(out));
    }
    if (obj.is(Value::Kind::string)) {
        std::vector<size_t> starts = char_starts(obj.s);
        std::string out;
        for (int64_t i :
             slice_indices(static_cast<int64_t>(starts.size()), part(0), part(1), part(2), e.pos)) {
            size_t end = static_cast<size_t>(i) + 1 < starts.size() ? starts[i + 1] : obj.s.size();
            out.append(obj.s, starts[i], end - starts[i]);
        }
        return Value::string(std::move(out));
    }
    fail(e.pos, std::string("cannot slice a ") + kind_name(obj.kind));
}

Value Interpreter::eval_call(const Expr& e, Scope& scope) {
    Array args;
    Kwargs kwargs;
    eval_args(e, scope, 0, args, kwargs);
    if (const Value* v = scope.find(e.name); v && v->is(Value::Kind::function))
        return v->fn->call(*this, args, kwargs, e.pos);
    if (const Value* v = scope.find(e.name); v && !v->is(Value::Kind::undefined))
        fail(e.pos, "'" + e.name + "' is a " + kind_name(v->kind) + ", not a function");
    fail(e.pos, "'" + e.name + "' is not defined (a macro is called before its definition ran)");
}

}  // namespace stride::jinja
