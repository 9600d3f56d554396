// Program + context -> text: the interpreter of the Jinja subset, with its filters, tests, methods and
// global functions, and the limits that bound a render.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/base/error.h"
#include "common/jinja/jinja_ast.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

const std::set<std::string> kFilters = {
    "trim",   "tojson",     "length",     "count",   "default", "d",      "upper",   "lower",
    "title",  "capitalize", "items",      "join",    "first",   "last",   "list",    "string",
    "int",    "float",      "abs",        "reverse", "sort",    "unique", "replace", "select",
    "reject", "selectattr", "rejectattr", "map",     "safe",    "indent", "dictsort"};
const std::set<std::string> kTests = {
    "defined", "undefined", "none",     "string",      "number",   "integer", "float", "boolean", "true",
    "false",   "mapping",   "sequence", "iterable",    "callable", "odd",     "even",  "lower",   "upper",
    "eq",      "equalto",   "ne",       "divisibleby", "in",       "lt",      "le",    "gt",      "ge"};
const std::set<std::string> kStringMethods = {"startswith", "endswith", "split", "rsplit", "strip",
                                              "lstrip",     "rstrip",   "upper", "lower",  "title",
                                              "capitalize", "replace",  "find",  "count",  "join"};
const std::set<std::string> kDictMethods = {"items", "keys", "values", "get"};
const std::set<std::string> kFunctions = {"raise_exception", "range", "namespace", "strftime_now", "dict"};

struct BreakSignal {};
struct ContinueSignal {};

struct Scope {
    std::unordered_map<std::string, Value> vars;
    Scope* parent = nullptr;
    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent) {
            auto it = s->vars.find(name);
            if (it != s->vars.end()) return &it->second;
        }
        return nullptr;
    }
};

std::string lower_ascii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}
std::string upper_ascii(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
}
std::string title_case(const std::string& s) {
    std::string out = s;
    bool start = true;
    for (char& c : out) {
        if (is_alpha(c) || (c >= '0' && c <= '9')) {
            if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            if (!start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            start = false;
        } else {
            start = true;
        }
    }
    return out;
}
std::string capitalize(const std::string& s) {
    std::string out = lower_ascii(s);
    if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
    return out;
}

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        unsigned char c = s[i];
        if (c >= 0x80 && ensure_ascii) {
            size_t len;
            uint32_t cp = decode_at(s, i, &len);
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

class Interpreter {
   public:
    Interpreter(const std::string& name, const Limits& limits) : name_(name), limits_(limits) {}

    std::string render(const Program& prog, const nlohmann::ordered_json& context) {
        if (!context.is_object()) throw Error(name_ + ": the context must be a JSON object");
        Scope root;
        // The global functions are variables (`strftime_now is defined` holds, as in transformers);
        // the context may shadow them.
        for (const std::string& name : kFunctions) {
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

    [[noreturn]] void fail(Pos p, const std::string& msg) const {
        throw Error(name_ + ": " + where(p) + ": " + msg);
    }

    void step(Pos p) {
        if (++steps_ > limits_.max_steps)
            fail(p, "the template ran more than " + std::to_string(limits_.max_steps) +
                        " steps (Limits::max_steps)");
    }
    void check_size(const std::string& s, Pos p) const {
        if (s.size() > limits_.max_output_bytes)
            fail(p, "a string of more than " + std::to_string(limits_.max_output_bytes) +
                        " bytes (Limits::max_output_bytes)");
    }
    void check_size(size_t items, Pos p) const {
        if (items > limits_.max_list_items)
            fail(p, "a list of more than " + std::to_string(limits_.max_list_items) +
                        " items (Limits::max_list_items)");
    }

    // ---- statements --------------------------------------------------------------------------------

    void emit(std::string& out, const std::string& s, Pos p) {
        out += s;
        check_size(out, p);
    }

    void exec(const Body& body, Scope& scope, std::string& out) {
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

    void bind(Scope& scope, const std::vector<std::string>& targets, const Value& v, Pos p) {
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

    Array iterate(const Value& v, Pos p) {
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
                    chars.push_back(Value::string(v.s.substr(
                        starts[i], (i + 1 < starts.size() ? starts[i + 1] : v.s.size()) - starts[i])));
                return chars;
            }
            default:
                break;
        }
        fail(p, std::string("cannot iterate over a ") + kind_name(v.kind));
    }

    void exec_for(const Stmt& s, Scope& scope, std::string& out) {
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

    void exec_set(const Stmt& s, Scope& scope) {
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

    void define_macro(const Stmt& s, Scope& scope) {
        auto fn = std::make_shared<Callable>();
        fn->name = s.name;
        const Stmt* def = &s;
        fn->call = [def](Interpreter& in, Array& args, Kwargs& kwargs, Pos p) {
            return in.call_macro(*def, args, kwargs, p);
        };
        scope.vars[s.name] = Value::function(std::move(fn));
    }

    Value call_macro(const Stmt& def, Array& args, Kwargs& kwargs, Pos p) {
        if (++call_depth_ > limits_.max_call_depth) {
            --call_depth_;
            fail(p, "macro calls nested deeper than " + std::to_string(limits_.max_call_depth) +
                        " (Limits::max_call_depth)");
        }
        Scope scope;
        scope.parent = root_;
        if (args.size() > def.params.size())
            fail(p, "macro '" + def.name + "' takes " + std::to_string(def.params.size()) +
                        " arguments, got " + std::to_string(args.size()));
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
            if (!bound[i])
                scope.vars[def.params[i]] = def.defaults[i] ? eval(*def.defaults[i], scope) : Value();
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

    // ---- expressions -------------------------------------------------------------------------------

    // Work proportional to a value's size (copying it, comparing it) counts as steps: a string is a
    // step per 32 bytes, a list or dict a step per item. So does a quadratic loop of appends.
    void charge(const Value& v, Pos p) {
        if (v.is(Value::Kind::string)) steps_ += static_cast<int64_t>(v.s.size() / 32);
        if (v.is(Value::Kind::array)) steps_ += static_cast<int64_t>(v.a->size());
        if (v.is(Value::Kind::object)) steps_ += static_cast<int64_t>(v.o->items.size());
        step(p);
    }

    Value eval(const Expr& e, Scope& scope) {
        Value v = eval_node(e, scope);
        charge(v, e.pos);
        if (v.depth > limits_.max_tree_depth)
            fail(e.pos, "a value nested deeper than " + std::to_string(limits_.max_tree_depth) +
                            " levels (Limits::max_tree_depth)");
        return v;
    }

    Value eval_node(const Expr& e, Scope& scope) {
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

    static std::string describe_expr(const Expr& e) {
        if (e.kind == EK::name) return "'" + e.name + "'";
        if (e.kind == EK::attr) return describe_expr(*e.args[0]) + "." + e.name;
        return "the value";
    }

    void eval_args(const Expr& e, Scope& scope, size_t from, Array& args, Kwargs& kwargs) {
        for (size_t i = from; i < e.args.size(); ++i) args.push_back(eval(*e.args[i], scope));
        for (size_t i = 0; i < e.kwargs.size(); ++i)
            kwargs.emplace_back(e.kwnames[i], eval(*e.kwargs[i], scope));
    }

    Value get_attr(const Value& obj, const std::string& name, Pos p, const std::string& what) {
        if (obj.is(Value::Kind::undefined)) fail(p, "cannot read '." + name + "': " + what + " is undefined");
        if (obj.is(Value::Kind::object)) {
            const Value* v = obj.o->find(name);
            return v ? *v : Value();
        }
        return Value();
    }

    Value get_item(const Value& obj, const Value& key, Pos p, const std::string& what) {
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
    std::vector<int64_t> slice_indices(int64_t n, const Value* start, const Value* stop, const Value* stepv,
                                       Pos p) {
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

    Value eval_slice(const Expr& e, Scope& scope) {
        Value obj = eval(*e.args[0], scope);
        Value parts[3];
        for (int k = 0; k < 3; ++k)
            if (e.args[k + 1]) parts[k] = eval(*e.args[k + 1], scope);
        auto part = [&](int k) -> const Value* { return e.args[k + 1] ? &parts[k] : nullptr; };
        if (obj.is(Value::Kind::array)) {
            Array out;
            for (int64_t i :
                 slice_indices(static_cast<int64_t>(obj.a->size()), part(0), part(1), part(2), e.pos))
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

    Value eval_call(const Expr& e, Scope& scope) {
        Array args;
        Kwargs kwargs;
        eval_args(e, scope, 0, args, kwargs);
        if (const Value* v = scope.find(e.name); v && v->is(Value::Kind::function))
            return v->fn->call(*this, args, kwargs, e.pos);
        if (const Value* v = scope.find(e.name); v && !v->is(Value::Kind::undefined))
            fail(e.pos, "'" + e.name + "' is a " + kind_name(v->kind) + ", not a function");
        fail(e.pos, "'" + e.name + "' is not defined (a macro is called before its definition ran)");
    }

    Value call_builtin(const std::string& name, Array& args, Kwargs& kwargs, Pos pos) {
        if (name == "raise_exception") {
            std::string msg = args.empty() ? "" : to_str(args[0]);
            throw Error(name_ + ": " + where(pos) + ": raise_exception: " + msg);
        }
        if (name == "range") {
            std::vector<int64_t> n;
            for (const Value& a : args) {
                if (!a.is(Value::Kind::integer)) fail(pos, "range() takes integers");
                n.push_back(a.i);
            }
            if (n.empty() || n.size() > 3) fail(pos, "range() takes 1 to 3 arguments");
            int64_t start = n.size() == 1 ? 0 : n[0], stop = n.size() == 1 ? n[0] : n[1],
                    st = n.size() == 3 ? n[2] : 1;
            if (st == 0) fail(pos, "range() step cannot be zero");
            const __int128 span =
                st > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
            const __int128 count = span <= 0 ? 0 : (span + (st > 0 ? st : -st) - 1) / (st > 0 ? st : -st);
            if (count > static_cast<__int128>(limits_.max_list_items))
                check_size(limits_.max_list_items + 1, pos);
            Array out;
            for (int64_t i = start; st > 0 ? i < stop : i > stop; i += st) {
                step(pos);  // a range costs its length
                out.push_back(Value::integer(i));
                check_size(out.size(), pos);
            }
            return Value::array(std::move(out));
        }
        if (name == "namespace" || name == "dict") {
            auto o = std::make_shared<Object>();
            o->is_namespace = name == "namespace";
            if (o->is_namespace) namespaces_.push_back(o);
            for (const Value& a : args) {
                if (!a.is(Value::Kind::object)) fail(pos, name + "() takes a dict or keyword arguments");
                for (const auto& [k, v] : a.o->items) o->set(k, v);
            }
            for (auto& [k, v] : kwargs) o->set(k, v);
            return Value::object(std::move(o));
        }
        if (name == "strftime_now") {
            if (args.size() != 1 || !args[0].is(Value::Kind::string))
                fail(pos, "strftime_now() takes a format string");
            std::time_t t = std::time(nullptr);
            std::tm tm{};
            localtime_r(&t, &tm);
            char buf[256];
            size_t n = std::strftime(buf, sizeof buf, args[0].s.c_str(), &tm);
            return Value::string(std::string(buf, n));
        }
        fail(pos, "function '" + name + "()' is not supported");
    }

    // ---- operators ---------------------------------------------------------------------------------

    [[noreturn]] void bad_operands(const std::string& op, const Value& l, const Value& r, Pos p) {
        fail(p, "unsupported operands for '" + op + "': " + kind_name(l.kind) + " and " + kind_name(r.kind));
    }

    static int64_t as_int(const Value& v) { return v.is(Value::Kind::integer) ? v.i : v.b; }
    static double as_double(const Value& v) {
        return v.is(Value::Kind::floating) ? v.f : static_cast<double>(as_int(v));
    }

    Value binary(const std::string& op, const Value& l, const Value& r, Pos p) {
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
            if (cnt->is(Value::Kind::integer) &&
                (seq->is(Value::Kind::string) || seq->is(Value::Kind::array))) {
                int64_t n = std::max<int64_t>(0, cnt->i);
                if (seq->is(Value::Kind::string)) {
                    if (!seq->s.empty() &&
                        static_cast<uint64_t>(n) > limits_.max_output_bytes / seq->s.size())
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

    bool contains(const Value& container, const Value& item, Pos p) {
        switch (container.kind) {
            case Value::Kind::undefined:
                return false;
            case Value::Kind::string:
                if (!item.is(Value::Kind::string))
                    fail(p, std::string("'in <string>' needs a string on the left, got a ") +
                                kind_name(item.kind));
                return container.s.find(item.s) != std::string::npos;
            case Value::Kind::array:
                for (const Value& x : *container.a)
                    if (equal(x, item)) return true;
                return false;
            case Value::Kind::object:
                return item.is(Value::Kind::string) && !container.o->is_namespace &&
                       container.o->find(item.s);
            default:
                fail(p, std::string("'in' needs a string, list or dict on the right, got a ") +
                            kind_name(container.kind));
        }
    }

    // -1, 0, 1; Error when Python could not order the two.
    int order(const Value& l, const Value& r, Pos p) {
        if (l.is_number() && r.is_number()) {
            double a = as_double(l), b = as_double(r);
            if (!l.is(Value::Kind::floating) && !r.is(Value::Kind::floating))
                return as_int(l) < as_int(r) ? -1 : as_int(l) > as_int(r);
            return a < b ? -1 : a > b;
        }
        if (l.is(Value::Kind::string) && r.is(Value::Kind::string)) return l.s < r.s ? -1 : l.s > r.s;
        fail(p, std::string("cannot order a ") + kind_name(l.kind) + " and a " + kind_name(r.kind));
    }

    bool compare(const std::string& op, const Value& l, const Value& r, Pos p) {
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

    // ---- filters, tests, methods -------------------------------------------------------------------

    static const Value* arg(const Array& args, const Kwargs& kwargs, size_t i, const char* name) {
        if (i < args.size()) return &args[i];
        for (const auto& [k, v] : kwargs)
            if (k == name) return &v;
        return nullptr;
    }
    bool flag(const Array& args, const Kwargs& kwargs, size_t i, const char* name, bool dflt) {
        const Value* v = arg(args, kwargs, i, name);
        return v ? truthy(*v) : dflt;
    }
    std::string str_arg(const Array& args, const Kwargs& kwargs, size_t i, const char* name,
                        const std::string& dflt, Pos p) {
        const Value* v = arg(args, kwargs, i, name);
        if (!v || v->is(Value::Kind::none)) return dflt;
        if (!v->is(Value::Kind::string)) fail(p, std::string("argument '") + name + "' must be a string");
        return v->s;
    }

    int64_t length(const Value& v, Pos p) {
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

    void to_json(std::string& out, const Value& v, const std::string* indent, const std::string& item_sep,
                 const std::string& key_sep, bool sort_keys, bool ensure_ascii, int depth, Pos p) {
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
                    to_json(out, items[i]->second, indent, item_sep, key_sep, sort_keys, ensure_ascii,
                            depth + 1, p);
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

    Value attribute_path(const Value& item, const std::string& path, Pos p) {
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

    Value apply_filter(const std::string& f, const Value& in, Array& args, Kwargs& kwargs, Pos p) {
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
            if (in.is(Value::Kind::undefined) || (boolean && !truthy(in)))
                return dv ? *dv : Value::string("");
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
                    return cs ? (*a.a)[0].s < (*b.a)[0].s
                              : lower_ascii((*a.a)[0].s) < lower_ascii((*b.a)[0].s);
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
                        fail(p,
                             f + ": test '" + to_str(args[1]) + "' is not supported (Stride's Jinja subset)");
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
                        fail(p,
                             f + ": test '" + to_str(args[0]) + "' is not supported (Stride's Jinja subset)");
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
                    : std::string(w && w->is(Value::Kind::integer) ? std::clamp<int64_t>(w->i, 0, 256) : 4,
                                  ' ');
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

    bool apply_test(const std::string& t, const Value& v, const Array& args, Pos p) {
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

    Value split(const std::string& s, const Value* sepv, int64_t maxsplit, bool from_right, Pos p) {
        Array parts;
        if (!sepv || sepv->is(Value::Kind::none)) {
            // Runs of whitespace separate; leading/trailing whitespace yields no empty parts.
            std::vector<std::pair<size_t, size_t>> words;  // byte ranges
            size_t i = 0, start = std::string::npos;
            while (i < s.size()) {
                size_t len;
                uint32_t c = decode_at(s, i, &len);
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

    Value call_method(const Value& obj, const std::string& m, Array& args, Kwargs& kwargs, Pos p) {
        if (obj.is(Value::Kind::string) && kStringMethods.count(m)) {
            const std::string& s = obj.s;
            if (m == "startswith" || m == "endswith") {
                const Value* a = arg(args, kwargs, 0, "prefix");
                if (!a) fail(p, m + "() needs an argument");
                Array cands = a->is(Value::Kind::array) ? *a->a : Array{*a};
                for (const Value& c : cands) {
                    if (!c.is(Value::Kind::string)) fail(p, m + "() takes a string or a tuple of strings");
                    if (m == "startswith" ? s.starts_with(c.s) : s.ends_with(c.s))
                        return Value::boolean(true);
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
                    return Value::integer(at == std::string::npos
                                              ? -1
                                              : static_cast<int64_t>(char_starts(s.substr(0, at)).size()));
                }
                if (a->s.empty()) return Value::integer(length(obj, p) + 1);
                int64_t n = 0;
                for (size_t at = s.find(a->s); at != std::string::npos; at = s.find(a->s, at + a->s.size()))
                    ++n;
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

    // Namespaces are the only mutable values, so the only way to cycles and to chains whose depth no
    // Value records: empty them all (their contents first moved out) before anything is freed, so
    // that freeing never recurses through them.
    ~Interpreter() {
        std::vector<std::vector<std::pair<std::string, Value>>> contents;
        contents.reserve(namespaces_.size());
        for (auto& ns : namespaces_) contents.push_back(std::move(ns->items));
        namespaces_.clear();
    }

   private:
    std::vector<std::shared_ptr<Object>> namespaces_;
    const std::string& name_;
    const Limits& limits_;
    int64_t steps_ = 0;
    int call_depth_ = 0;
    Scope* root_ = nullptr;
};

bool known_filter(const std::string& name) {
    return kFilters.count(name) > 0;
}
bool known_test(const std::string& name) {
    return kTests.count(name) > 0;
}
bool known_method(const std::string& name) {
    return kStringMethods.count(name) > 0 || kDictMethods.count(name) > 0;
}
bool known_function(const std::string& name) {
    return kFunctions.count(name) > 0;
}

Template::Template(std::string_view source, std::string name, Limits limits)
    : program_(parse_program(source, name, limits)), name_(std::move(name)), limits_(limits) {}

std::string Template::render(const nlohmann::ordered_json& context) const {
    Interpreter in(name_, limits_);
    return in.render(*program_, context);
}

}  // namespace stride::jinja
