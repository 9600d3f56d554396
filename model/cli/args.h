// Minimal --flag value parsing shared by the subcommands. Unknown flags are errors naming the flag.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace stride::cli {

class Args {
   public:
    // `flags` lists accepted --names taking a value; `switches` lists accepted --names without one.
    Args(int argc, char** argv, const std::set<std::string>& flags,
         const std::set<std::string>& switches = {});

    bool has(const std::string& name) const;
    std::string get(const std::string& name) const;  // throws Error "missing --name"
    std::string get(const std::string& name, const std::string& fallback) const;
    int get_int(const std::string& name) const;
    int get_int(const std::string& name, int fallback) const;
    double get_double(const std::string& name, double fallback) const;
    uint64_t get_u64(const std::string& name, uint64_t fallback) const;

   private:
    std::map<std::string, std::string> values_;
};

}  // namespace stride::cli
