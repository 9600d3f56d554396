// The one argument parser of every `stride` command, on CLI11 (libcli11-dev, header-only).
//
// Each command declares its flags (--name VALUE, typed), switches (--name) and positionals once; the
// same declaration gives `stride CMD --help` (usage, every flag, its default) and the checks. parse()
// reports every problem of a command line at once (unknown flags, values that do not parse, all
// missing required flags) in one UsageError, so a user fixes a command in one try.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/error.h"

namespace CLI {
class App;
}

namespace stride::cli {

// A bad command line; its message ends with the usage line.
class UsageError : public Error {
   public:
    using Error::Error;
};

class Parser {
   public:
    // `usage`: the synopsis ("stride generate --model DIR [options]"), printed after "usage: ";
    // `description`: what the command does (one or a few lines), printed under it by --help.
    Parser(std::string usage, std::string description);
    ~Parser();
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;

    // --name VALUE into `out` (int, int64_t, uint64_t, double or std::string); `out`'s value on entry is
    // the default --help shows (not shown for required flags).
    Parser& flag(const std::string& name, int& out, const std::string& help, bool required = false);
    Parser& flag(const std::string& name, int64_t& out, const std::string& help, bool required = false);
    Parser& flag(const std::string& name, uint64_t& out, const std::string& help, bool required = false);
    Parser& flag(const std::string& name, double& out, const std::string& help, bool required = false);
    Parser& flag(const std::string& name, std::string& out, const std::string& help, bool required = false);
    // --name without a value: sets `out` to true.
    Parser& toggle(const std::string& name, bool& out, const std::string& help);
    // One positional argument (required unless `required` is false).
    Parser& positional(const std::string& name, std::string& out, const std::string& help,
                       bool required = true);
    // The remaining positional arguments (e.g. RUN_DIR... or key=value overrides); at least `min`.
    Parser& positionals(const std::string& name, std::vector<std::string>& out, const std::string& help,
                        size_t min = 0);
    // Free text printed after the flags by --help (examples, input format).
    Parser& footer(const std::string& text);

    // Parses the arguments after the command's name. Returns false after printing the help to stdout
    // (--help or -h: the command then exits 0); throws UsageError naming every problem at once.
    bool parse(int argc, char** argv);
    bool given(const std::string& name) const;  // the flag or switch was on the command line
    std::string help() const;
    const std::string& usage() const { return usage_; }

   private:
    struct Typed;
    Parser& add(const std::string& name, const std::string& type, const std::string& help, bool required,
                std::string default_text, std::function<std::string(const std::string&)> convert);

    std::string usage_;
    std::unique_ptr<CLI::App> app_;
    std::deque<Typed> typed_;  // stable addresses: CLI11 writes into them
    std::set<std::string> given_;
    struct Positional {
        std::string name;
        size_t min;
        size_t count = 0;
    };
    std::deque<Positional> positional_;
};

}  // namespace stride::cli
