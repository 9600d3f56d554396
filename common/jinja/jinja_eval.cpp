// Program + context -> text: the interpreter's render, its limits and the statements (if, for, set,
// macro, break, continue). Expressions, operators, filters, tests, methods and functions are in the
// files jinja_interpreter.h lists.
#include <algorithm>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

// Thrown by break and continue, caught by the innermost for loop.
struct BreakSignal {};
struct ContinueSignal {};

}  // namespace

std::string Interpreter::render(const Program& prog, const nlohmann::ordered_json& context) {
    if (!context.is_object()) throw Error(name_ + ": the context must be a JSON object");
    Scope root;
    // The global functions are variables (`strftime_now is defined` holds, as in transformers);
    // the context may shadow them.
    for (const std::string& name : function_names()) {
        auto fn = std::make_shared<Callable>();
        fn->name = name;
        fn->call = [name](Interpreter& in, Array& args, Kwargs& kwargs, Pos p) {
            return in.call_builtin(name, args, kwargs, p);
        };
        root.vars[name] = Value::function(std::move(fn));
    }
    for (const auto& [k, v] : context.items()) root.vars[k] = from_json(v, limits_.max_tree_depth);
    root_ = &root;
    std::string out;
    try {
        exec(prog.body, root, out);
    } catch (const BreakSignal&) {
        throw Error(name_ + ": 'break' outside a for loop");
    } catch (const ContinueSignal&) {
        throw Error(name_ + ": 'continue' outside a for loop");
    }
    return out;
}

void Interpreter::fail(Pos p, const std::string& msg) const {
    throw Error(name_ + ": " + where(p) + ": " + msg);
}

void Interpreter::step(Pos p) {
    if (++steps_ > limits_.max_steps)
        fail(p, "the template ran more than " + std::to_string(limits_.max_steps) +
                    " steps (Limits::max_steps)");
}

void Interpreter::check_size(const std::string& s, Pos p) const {
    if (s.size() > limits_.max_output_bytes)
        fail(p, "a string of more than " + std::to_string(limits_.max_output_bytes) +
                    " bytes (Limits::max_output_bytes)");
}

void Interpreter::check_size(size_t items, Pos p) const {
    if (items > limits_.max_list_items)
        fail(p, "a list of more than " + std::to_string(limits_.max_list_items) +
                    " items (Limits::max_list_items)");
}

void Interpreter::emit(std::string& out, const std::string& s, Pos p) {
    out += s;
    check_size(out, p);
}

void Interpreter::exec(const Body& body, Scope& scope, std::string& out) {
    for (const auto& sp : body) {
        const Stmt& s = *sp;
        step(s.pos);
        switch (s.kind) {
            case SK::text:
                emit(out, s.text, s.pos);
                break;
            case SK::output:
                emit(out, to_str(eval(*s.expr, scope)), s.pos);
                break;
            case SK::if_:
                exec(truthy(eval(*s.expr, scope)) ? s.body : s.else_body, scope, out);
                break;
            case SK::for_:
                exec_for(s, scope, out);
                break;
            case SK::set:
                exec_set(s, scope);
                break;
            case SK::set_block: {
                std::string text;
                exec(s.body, scope, text);
                scope.vars[s.targets[0]] = Value::string(std::move(text));
                break;
            }
            case SK::macro:
                define_macro(s, scope);
                break;
            case SK::break_:
                throw BreakSignal{};
            case SK::continue_:
                throw ContinueSignal{};
        }
    }
}

void Interpreter::bind(Scope& scope, const std::vector<std::string>& targets, const Value& v, Pos p) {
    if (targets.size() == 1) {
        scope.vars[targets[0]] = v;
        return;
    }
    if (!v.is(Value::Kind::array))
        fail(p, std::string("cannot unpack a ") + kind_name(v.kind) + " into " +
                    std::to_string(targets.size()) + " names");
    if (v.a->size() != targets.size())
        fail(p, "cannot unpack " + std::to_string(v.a->size()) + " values into " +
                    std::to_string(targets.size()) + " names");
    for (size_t i = 0; i < targets.size(); ++i) scope.vars[targets[i]] = (*v.a)[i];
}

Array Interpreter::iterate(const Value& v, Pos p) {
    switch (v.kind) {
        case Value::Kind::undefined:
            return {};
        case Value::Kind::array:
            return *v.a;
        case Value::Kind::object: {
            if (v.o->is_namespace) break;
            Array keys;
            for (const auto& [k, x] : v.o->items) keys.push_back(Value::string(k));
            return keys;
        }
        case Value::Kind::string: {
            Array chars;
            std::vector<size_t> starts = char_starts(v.s);
            for (size_t i = 0; i < starts.size(); ++i)
                chars.push_back(Value::string(
                    v.s.substr(starts[i], (i + 1 < starts.size() ? starts[i + 1] : v.s.size()) - starts[i])));
            return chars;
        }
        default:
            break;
    }
    fail(p, std::string("cannot iterate over a ") + kind_name(v.kind));
}

void Interpreter::exec_for(const Stmt& s, Scope& scope, std::string& out) {
    Scope loop_scope;
    loop_scope.parent = &scope;
    Array items = iterate(eval(*s.expr, loop_scope), s.pos);
    if (s.cond) {
        Array kept;
        for (Value& item : items) {
            step(s.pos);
            Scope test_scope;
            test_scope.parent = &loop_scope;
            bind(test_scope, s.targets, item, s.pos);
            if (truthy(eval(*s.cond, test_scope))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    const int64_t n = static_cast<int64_t>(items.size());
    // One loop object per loop, updated in place each iteration (as Jinja's LoopContext).
    auto loop = std::make_shared<Object>();
    loop->items = {{"index", Value::integer(0)},
                   {"index0", Value::integer(0)},
                   {"revindex", Value::integer(0)},
                   {"revindex0", Value::integer(0)},
                   {"first", Value::boolean(false)},
                   {"last", Value::boolean(false)},
                   {"length", Value::integer(n)},
                   {"previtem", Value()},
                   {"nextitem", Value()}};
    loop_scope.vars["loop"] = Value::object(loop);
    for (int64_t i = 0; i < n; ++i) {
        step(s.pos);
        auto& it = loop->items;
        it[0].second.i = i + 1;
        it[1].second.i = i;
        it[2].second.i = n - i;
        it[3].second.i = n - i - 1;
        it[4].second.b = i == 0;
        it[5].second.b = i == n - 1;
        it[7].second = i > 0 ? items[i - 1] : Value();
        it[8].second = i + 1 < n ? items[i + 1] : Value();
        bind(loop_scope, s.targets, items[i], s.pos);
        try {
            exec(s.body, loop_scope, out);
        } catch (const ContinueSignal&) {
            continue;
        } catch (const BreakSignal&) {
            break;
        }
    }
    if (n == 0) exec(s.else_body, scope, out);
}

void Interpreter::exec_set(const Stmt& s, Scope& scope) {
    Value v = eval(*s.expr, scope);
    if (s.attr_of) {
        Value ns = eval(*s.attr_of, scope);
        if (!ns.is(Value::Kind::object) || !ns.o->is_namespace)
            fail(s.pos, "'set " + s.attr_of->name + "." + s.targets[0] +
                            "': only a namespace() takes attributes, '" + s.attr_of->name + "' is a " +
                            kind_name(ns.kind));
        ns.o->set(s.targets[0], std::move(v));
        return;
    }
    bind(scope, s.targets, v, s.pos);
}

void Interpreter::define_macro(const Stmt& s, Scope& scope) {
    auto fn = std::make_shared<Callable>();
    fn->name = s.name;
    const Stmt* def = &s;
    fn->call = [def](Interpreter& in, Array& args, Kwargs& kwargs, Pos p) {
        return in.call_macro(*def, args, kwargs, p);
    };
    scope.vars[s.name] = Value::function(std::move(fn));
}

Value Interpreter::call_macro(const Stmt& def, Array& args, Kwargs& kwargs, Pos p) {
    if (++call_depth_ > limits_.max_call_depth) {
        --call_depth_;
        fail(p, "macro calls nested deeper than " + std::to_string(limits_.max_call_depth) +
                    " (Limits::max_call_depth)");
    }
    Scope scope;
    scope.parent = root_;
    if (args.size() > def.params.size())
        fail(p, "macro '" + def.name + "' takes " + std::to_string(def.params.size()) + " arguments, got " +
                    std::to_string(args.size()));
    std::vector<bool> bound(def.params.size(), false);
    for (size_t i = 0; i < args.size(); ++i) {
        scope.vars[def.params[i]] = args[i];
        bound[i] = true;
    }
    for (auto& [k, v] : kwargs) {
        auto it = std::find(def.params.begin(), def.params.end(), k);
        if (it == def.params.end()) fail(p, "macro '" + def.name + "' has no argument '" + k + "'");
        scope.vars[k] = v;
        bound[it - def.params.begin()] = true;
    }
    for (size_t i = 0; i < def.params.size(); ++i)
        if (!bound[i]) scope.vars[def.params[i]] = def.defaults[i] ? eval(*def.defaults[i], scope) : Value();
    std::string out;
    try {
        exec(def.body, scope, out);
    } catch (...) {
        --call_depth_;
        throw;
    }
    --call_depth_;
    return Value::string(std::move(out));
}

// Namespaces are the only mutable values, so the only way to cycles and to chains whose depth no
// Value records: empty them all (their contents first moved out) before anything is freed, so
// that freeing never recurses through them.
Interpreter::~Interpreter() {
    std::vector<std::vector<std::pair<std::string, Value>>> contents;
    contents.reserve(namespaces_.size());
    for (auto& ns : namespaces_) contents.push_back(std::move(ns->items));
    namespaces_.clear();
}

Template::Template(std::string_view source, std::string name, Limits limits)
    : program_(parse_program(source, name, limits)), name_(std::move(name)), limits_(limits) {}

std::string Template::render(const nlohmann::ordered_json& context) const {
    Interpreter in(name_, limits_);
    return in.render(*program_, context);
}

}  // namespace stride::jinja
