// Internals of the Jinja subset (jinja.h): runtime values and the parsed template. Used by
// jinja_parse.cpp (source -> Program) and jinja_eval.cpp (Program + context -> text) only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/jinja/jinja.h"

namespace stride::jinja {

struct Pos {
    int line = 1;
    int col = 1;
};

// "line 3, column 7"
std::string where(Pos p);

struct Value;
using Array = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;

// A dict (insertion-ordered, as Python's) or a namespace() (whose attributes `set` may assign).
struct Object {
    std::vector<std::pair<std::string, Value>> items;
    bool is_namespace = false;
    const Value* find(const std::string& key) const;
    void set(const std::string& key, Value v);
};

class Interpreter;
struct Callable {
    std::string name;
    std::function<Value(Interpreter&, Array& args, Kwargs& kwargs, Pos)> call;
};

struct Value {
    enum class Kind : uint8_t {
        undefined,
        none,
        boolean,
        integer,
        floating,
        string,
        array,
        object,
        function
    };
    Kind kind = Kind::undefined;
    uint16_t depth = 0;  // nesting of lists and dicts (a namespace counts as a leaf), saturating
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;
    std::shared_ptr<Array> a;  // lists and tuples share by reference, as in Python
    std::shared_ptr<Object> o;
    std::shared_ptr<const Callable> fn;

    static Value none() { return with(Kind::none); }
    static Value boolean(bool v) {
        Value x = with(Kind::boolean);
        x.b = v;
        return x;
    }
    static Value integer(int64_t v) {
        Value x = with(Kind::integer);
        x.i = v;
        return x;
    }
    static Value floating(double v) {
        Value x = with(Kind::floating);
        x.f = v;
        return x;
    }
    static Value string(std::string v) {
        Value x = with(Kind::string);
        x.s = std::move(v);
        return x;
    }
    static Value array(Array v = {}) {
        Value x = with(Kind::array);
        x.depth = 1 + max_depth_of(v);
        x.a = std::make_shared<Array>(std::move(v));
        return x;
    }
    static Value object(std::shared_ptr<Object> o) {
        Value x = with(Kind::object);
        x.depth = 1;
        if (!o->is_namespace)
            for (const auto& kv : o->items) x.depth = std::max<uint16_t>(x.depth, kv.second.depth + 1);
        x.o = std::move(o);
        return x;
    }
    static Value function(std::shared_ptr<const Callable> f) {
        Value x = with(Kind::function);
        x.fn = std::move(f);
        return x;
    }
    bool is(Kind k) const { return kind == k; }
    bool is_number() const {
        return kind == Kind::integer || kind == Kind::floating || kind == Kind::boolean;
    }

   private:
    static uint16_t max_depth_of(const Array& v) {
        uint16_t d = 0;
        for (const Value& x : v) d = std::max(d, x.depth);
        return d == UINT16_MAX ? d - 1 : d;
    }
    static Value with(Kind k) {
        Value x;
        x.kind = k;
        return x;
    }
};

const char* kind_name(Value::Kind k);
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);
std::string to_str(const Value& v);   // Python's str(): what {{ v }} prints
std::string py_repr(const Value& v);  // Python's repr(), used inside str() of lists and dicts
std::string py_float(double d);       // Python's float repr: 1.0, 0.1, 1e-05
// Throws Error when the JSON nests deeper than max_depth.
Value from_json(const nlohmann::ordered_json& j, int max_depth);

// ---- the parsed template ----------------------------------------------------------------------------

struct Expr;
using ExprP = std::unique_ptr<Expr>;

enum class EK {
    literal,  // value
    name,     // name
    list,     // args
    tuple,    // args
    dict,     // args = key0, value0, key1, value1 ... (keys are expressions that must give strings)
    attr,     // args[0].name
    item,     // args[0][args[1]]
    slice,    // args[0][args[1]:args[2]:args[3]] (null parts absent)
    call,     // name(args, kwnames=kwargs): a global function or macro
    method,   // args[0].name(args[1..], kwargs)
    filter,   // args[0] | name(args[1..], kwargs)
    test,     // args[0] is [not] name(args[1..])
    unary,    // name in {"-", "+", "not"}: args[0]
    binary,   // args[0] name args[1]: + - * / // % ** ~ and or in "not in"
    compare,  // args[0] ops[0] args[1] ops[1] args[2] ... (chained, as Python)
    ternary,  // args[0] if args[1] else args[2] (args[2] null: undefined)
};

struct Expr {
    EK kind;
    Pos pos;
    Value value;
    std::string name;
    std::vector<ExprP> args;
    std::vector<std::string> kwnames;
    std::vector<ExprP> kwargs;
    std::vector<std::string> ops;  // compare
    bool negated = false;          // test: `is not`
    int depth = 1;                 // of the tree below (bounded by Limits::max_tree_depth)
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

enum class SK {
    text,       // text
    output,     // {{ expr }}
    if_,        // expr; body; else_body (an elif is an if alone in else_body)
    for_,       // targets in expr [if cond]; body; else_body
    set,        // targets (or attr_of.name) = expr
    set_block,  // targets[0] = rendering of body
    macro,      // name(params = defaults); body
    break_,
    continue_,
};

struct Stmt {
    SK kind;
    Pos pos;
    std::string text;
    ExprP expr;
    ExprP cond;
    std::vector<std::string> targets;
    ExprP attr_of;  // set ns.attr: the namespace expression; targets[0] is the attribute
    std::string name;
    std::vector<std::string> params;
    std::vector<ExprP> defaults;  // one per param, null when none
    Body body;
    Body else_body;
};

struct Program {
    Body body;
};

std::shared_ptr<const Program> parse_program(std::string_view source, const std::string& name,
                                             const Limits& limits);

// Names the parser accepts; the interpreter implements exactly these.
bool known_filter(const std::string& name);
bool known_test(const std::string& name);
bool known_method(const std::string& name);
bool known_function(const std::string& name);

}  // namespace stride::jinja
