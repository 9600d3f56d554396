// The global functions of the subset: raise_exception, range, namespace, dict, strftime_now.
#include <ctime>

#include "common/base/error.h"
#include "common/jinja/jinja_interpreter.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

const std::set<std::string> kFunctions = {"raise_exception", "range", "namespace", "strftime_now", "dict"};

}  // namespace

Value Interpreter::call_builtin(const std::string& name, Array& args, Kwargs& kwargs, Pos pos) {
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

const std::set<std::string>& function_names() {
    return kFunctions;
}

bool known_function(const std::string& name) {
    return kFunctions.count(name) > 0;
}

}  // namespace stride::jinja
