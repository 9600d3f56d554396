// The interpreter of the Jinja subset (jinja.h), declared once for the files that define its parts:
// jinja_eval.cpp (render, limits, statements), jinja_expr.cpp (expressions), jinja_operators.cpp,
// jinja_filters.cpp, jinja_tojson.cpp, jinja_tests.cpp, jinja_methods.cpp (string and dict methods)
// and jinja_functions.cpp (raise_exception, range, namespace, ...). Internal to common/jinja/.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/jinja/jinja_ast.h"

namespace stride::jinja {

// The variables of a block: a macro's arguments, a loop's names, the render's globals at the root.
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

// The global functions, bound as variables in every render (jinja_functions.cpp).
const std::set<std::string>& function_names();

class Interpreter {
   public:
    Interpreter(const std::string& name, const Limits& limits) : name_(name), limits_(limits) {}

    // render, limits and statements (jinja_eval.cpp)
    std::string render(const Program& prog, const nlohmann::ordered_json& context);
    [[noreturn]] void fail(Pos p, const std::string& msg) const;
    void step(Pos p);
    void check_size(const std::string& s, Pos p) const;
    void check_size(size_t items, Pos p) const;
    void emit(std::string& out, const std::string& s, Pos p);
    void exec(const Body& body, Scope& scope, std::string& out);
    void bind(Scope& scope, const std::vector<std::string>& targets, const Value& v, Pos p);
    Array iterate(const Value& v, Pos p);
    void exec_for(const Stmt& s, Scope& scope, std::string& out);
    void exec_set(const Stmt& s, Scope& scope);
    void define_macro(const Stmt& s, Scope& scope);
    Value call_macro(const Stmt& def, Array& args, Kwargs& kwargs, Pos p);

    // expressions (jinja_expr.cpp)
    void charge(const Value& v, Pos p);
    Value eval(const Expr& e, Scope& scope);
    Value eval_node(const Expr& e, Scope& scope);
    static std::string describe_expr(const Expr& e);
    void eval_args(const Expr& e, Scope& scope, size_t from, Array& args, Kwargs& kwargs);
    Value get_attr(const Value& obj, const std::string& name, Pos p, const std::string& what);
    Value get_item(const Value& obj, const Value& key, Pos p, const std::string& what);
    std::vector<int64_t> slice_indices(int64_t n, const Value* start, const Value* stop, const Value* stepv,
                                       Pos p);
    Value eval_slice(const Expr& e, Scope& scope);
    Value eval_call(const Expr& e, Scope& scope);

    // global functions (jinja_functions.cpp)
    Value call_builtin(const std::string& name, Array& args, Kwargs& kwargs, Pos pos);

    // operators (jinja_operators.cpp)
    [[noreturn]] void bad_operands(const std::string& op, const Value& l, const Value& r, Pos p);
    static int64_t as_int(const Value& v);
    static double as_double(const Value& v);
    Value binary(const std::string& op, const Value& l, const Value& r, Pos p);
    bool contains(const Value& container, const Value& item, Pos p);
    int order(const Value& l, const Value& r, Pos p);
    bool compare(const std::string& op, const Value& l, const Value& r, Pos p);

    // filters (jinja_filters.cpp)
    static const Value* arg(const Array& args, const Kwargs& kwargs, size_t i, const char* name);
    bool flag(const Array& args, const Kwargs& kwargs, size_t i, const char* name, bool dflt);
    std::string str_arg(const Array& args, const Kwargs& kwargs, size_t i, const char* name,
                        const std::string& dflt, Pos p);
    int64_t length(const Value& v, Pos p);

    Value attribute_path(const Value& item, const std::string& path, Pos p);
    Value apply_filter(const std::string& f, const Value& in, Array& args, Kwargs& kwargs, Pos p);

    // the tojson filter (jinja_tojson.cpp)
    void to_json(std::string& out, const Value& v, const std::string* indent, const std::string& item_sep,
                 const std::string& key_sep, bool sort_keys, bool ensure_ascii, int depth, Pos p);

    // tests (jinja_tests.cpp)
    bool apply_test(const std::string& t, const Value& v, const Array& args, Pos p);

    // string and dict methods (jinja_methods.cpp)
    Value split(const std::string& s, const Value* sepv, int64_t maxsplit, bool from_right, Pos p);
    Value call_method(const Value& obj, const std::string& m, Array& args, Kwargs& kwargs, Pos p);

    // Empties every namespace before anything is freed (jinja_eval.cpp).
    ~Interpreter();

   private:
    std::vector<std::shared_ptr<Object>> namespaces_;
    const std::string& name_;
    const Limits& limits_;
    int64_t steps_ = 0;
    int call_depth_ = 0;
    Scope* root_ = nullptr;
};

}  // namespace stride::jinja
