#include "model/cli/parser.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>

namespace stride::cli {

namespace {

// CLI11's help, with our usage line ("usage: stride CMD ...") and description at the top.
class Formatter : public CLI::Formatter {
   public:
    Formatter(std::string usage, std::string description)
        : usage_(std::move(usage)), description_(std::move(description)) {}
    std::string make_usage(const CLI::App*, std::string) const override {
        return "usage: " + usage_ + "\n" + (description_.empty() ? "" : "\n" + description_ + "\n");
    }
    std::string make_description(const CLI::App*) const override { return ""; }

   private:
    std::string usage_, description_;
};

std::string integer_error(const std::string& name, const std::string& v, long long lo, long long hi,
                          long long* out) {
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || !end || *end != '\0' || errno == ERANGE)
        return "--" + name + " expects an integer, got '" + v + "'";
    if (x < lo || x > hi) return "--" + name + " is out of range: " + v;
    *out = x;
    return "";
}

template <class T>
std::string default_text(const T& v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

}  // namespace

struct Parser::Typed {
    std::string name;
    std::string raw;
    bool required;
    std::function<std::string(const std::string&)> convert;  // "" or the problem
};

Parser::Parser(std::string usage, std::string description)
    : usage_(std::move(usage)), app_(std::make_unique<CLI::App>()) {
    app_->formatter(std::make_shared<Formatter>(usage_, std::move(description)));
    app_->allow_extras();  // unknown arguments are collected and reported with the other problems
    app_->get_formatter()->column_width(28);
}

Parser::~Parser() = default;

Parser& Parser::add(const std::string& name, const std::string& type, const std::string& help, bool required,
                    std::string default_value, std::function<std::string(const std::string&)> convert) {
    typed_.push_back({name, "", required, std::move(convert)});
    CLI::Option* o = app_->add_option("--" + name, typed_.back().raw, help + (required ? " (required)" : ""));
    o->type_name(type);
    o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last one counts
    if (!required && !default_value.empty()) o->default_str(default_value);
    return *this;
}

Parser& Parser::flag(const std::string& name, int& out, const std::string& help, bool required) {
    return add(name, "INT", help, required, default_text(out), [&out, name](const std::string& v) {
        long long x = 0;
        std::string e = integer_error(name, v, INT_MIN, INT_MAX, &x);
        if (e.empty()) out = static_cast<int>(x);
        return e;
    });
}

Parser& Parser::flag(const std::string& name, int64_t& out, const std::string& help, bool required) {
    return add(name, "INT", help, required, default_text(out), [&out, name](const std::string& v) {
        long long x = 0;
        std::string e = integer_error(name, v, LLONG_MIN, LLONG_MAX, &x);
        if (e.empty()) out = x;
        return e;
    });
}

Parser& Parser::flag(const std::string& name, uint64_t& out, const std::string& help, bool required) {
    return add(name, "UINT", help, required, default_text(out), [&out, name](const std::string& v) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
        if (v.empty() || v[0] == '-' || !end || *end != '\0' || errno == ERANGE)
            return "--" + name + " expects a non-negative integer, got '" + v + "'";
        out = x;
        return std::string();
    });
}

Parser& Parser::flag(const std::string& name, double& out, const std::string& help, bool required) {
    return add(name, "NUM", help, required, default_text(out), [&out, name](const std::string& v) {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || !end || *end != '\0') return "--" + name + " expects a number, got '" + v + "'";
        out = x;
        return std::string();
    });
}

Parser& Parser::flag(const std::string& name, std::string& out, const std::string& help, bool required) {
    return add(name, "TEXT", help, required, out.empty() ? "" : "\"" + out + "\"",
               [&out](const std::string& v) {
                   out = v;
                   return std::string();
               });
}

Parser& Parser::toggle(const std::string& name, bool& out, const std::string& help) {
    app_->add_flag("--" + name, out, help);
    return *this;
}

Parser& Parser::positional(const std::string& name, std::string& out, const std::string& help,
                           bool required) {
    positional_.push_back({name, required ? 1u : 0u});
    app_->add_option(name, out, help + (required ? " (required)" : ""))->type_name("");
    return *this;
}

Parser& Parser::positionals(const std::string& name, std::vector<std::string>& out, const std::string& help,
                            size_t min) {
    positional_.push_back({name, min});
    app_->add_option(name, out, help)->type_name("");
    return *this;
}

Parser& Parser::footer(const std::string& text) {
    app_->footer(text);
    return *this;
}

std::string Parser::help() const {
    return app_->help();
}

bool Parser::given(const std::string& name) const {
    return given_.count(name) > 0;
}

bool Parser::parse(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 0; --i) args.push_back(argv[i]);  // CLI11 takes them reversed
    try {
        app_->parse(args);
    } catch (const CLI::CallForHelp&) {
        std::fputs(help().c_str(), stdout);
        return false;
    } catch (const CLI::ArgumentMismatch& e) {  // "--model: 1 required TEXT missing": a flag at the end
        const std::string what = e.what();
        throw UsageError(what.substr(0, what.find(':')) + " needs a value\nusage: " + usage_ +
                         " (see --help)");
    } catch (const CLI::ParseError& e) {
        throw UsageError(std::string(e.what()) + "\nusage: " + usage_ + " (see --help)");
    }
    std::vector<std::string> problems, missing;
    for (const std::string& extra : app_->remaining()) {
        if (extra.rfind("-", 0) == 0)
            problems.push_back("unknown flag " + extra.substr(0, extra.find('=')));
        else
            problems.push_back("unexpected argument '" + extra + "'");
    }
    for (CLI::Option* o : app_->get_options()) {
        if (o->count() > 0 && !o->get_lnames().empty()) given_.insert(o->get_lnames()[0]);
    }
    for (Typed& t : typed_) {
        if (!given(t.name)) {
            if (t.required) missing.push_back("--" + t.name);
            continue;
        }
        std::string e = t.convert(t.raw);
        if (!e.empty()) problems.push_back(e);
    }
    for (Positional& p : positional_) {
        const CLI::Option* o = app_->get_option(p.name);
        if (o->count() < p.min) missing.push_back(p.name);
    }
    if (!missing.empty()) {
        std::string m = "missing ";
        for (size_t i = 0; i < missing.size(); ++i) m += (i ? ", " : "") + missing[i];
        problems.insert(problems.begin(), m);
    }
    if (problems.empty()) return true;
    std::string msg;
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    throw UsageError(msg + "\nusage: " + usage_ + " (see --help)");
}

}  // namespace stride::cli
