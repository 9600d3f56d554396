// Generator specs (gen:TASK?n=N&...): parsed and checked here, where config validation can reach
// them; the generators themselves are job/data_gen.h.
#include "common/gen_spec.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "common/base/error.h"

namespace stride {

namespace {

uint64_t pow10(int d) {
    uint64_t p = 1;
    for (int i = 0; i < d; ++i) p *= 10;
    return p;
}

}  // namespace

bool is_gen_spec(const std::string& s) {
    return s.rfind("gen:", 0) == 0;
}

std::vector<std::string> dataset_sources(const std::string& value) {
    std::string t = value;
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= t.size()) {
        size_t comma = t.find(',', start);
        if (comma == std::string::npos) comma = t.size();
        std::string item = t.substr(start, comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.size() >= 2 && (item.front() == '"' || item.front() == '\'') && item.back() == item.front())
            item = item.substr(1, item.size() - 2);
        if (!item.empty()) out.push_back(item);
        start = comma + 1;
    }
    return out;
}

GenSpec parse_gen_spec(const std::string& spec) {
    STRIDE_CHECK(is_gen_spec(spec), "'" + spec + "' is not a generator spec (gen:TASK?n=N&seed=S)");
    std::string body = spec.substr(4);
    size_t q = body.find('?');
    GenSpec g;
    g.task = body.substr(0, q);
    std::string query = q == std::string::npos ? "" : body.substr(q + 1);
    auto number = [&](const std::string& name, const std::string& v) -> int64_t {
        char* end = nullptr;
        long long x = std::strtoll(v.c_str(), &end, 10);
        STRIDE_CHECK(!v.empty() && *end == '\0', spec + ": " + name + " expects an integer, got '" + v + "'");
        return x;
    };
    size_t start = 0;
    while (start < query.size()) {
        size_t amp = query.find('&', start);
        if (amp == std::string::npos) amp = query.size();
        std::string param = query.substr(start, amp - start);
        size_t eq = param.find('=');
        STRIDE_CHECK(eq != std::string::npos, spec + ": expected name=value, got '" + param + "'");
        std::string name = param.substr(0, eq), value = param.substr(eq + 1);
        if (name == "n") {
            g.n = number(name, value);
        } else if (name == "seed") {
            g.seed = static_cast<uint64_t>(number(name, value));
        } else if (name == "digits") {
            g.digits = static_cast<int>(number(name, value));
        } else if (name == "op") {
            g.op = value;
        } else if (name == "max_len") {
            g.max_len = static_cast<int>(number(name, value));
        } else {
            throw Error(spec + ": unknown parameter '" + name + "' (n, seed, digits, op, max_len)");
        }
        start = amp + 1;
    }
    try {
        check_gen_spec(g);
    } catch (const Error& e) {
        throw Error(spec + ": " + e.what());
    }
    return g;
}

void check_gen_spec(const GenSpec& g) {
    STRIDE_CHECK(g.task == "arith" || g.task == "collatz" || g.task == "countdown",
                 "unknown task '" + g.task + "' (arith, collatz, countdown)");
    if (g.task == "countdown")
        STRIDE_CHECK(g.max_len >= 1 && static_cast<uint64_t>(g.max_len) < pow10(g.digits),
                     fmt::format("max_len must be in [1, 10^digits - 1], got {}", g.max_len));
    STRIDE_CHECK(g.n >= 1, fmt::format("n must be >= 1, got {}", g.n));
    STRIDE_CHECK(g.digits >= 1 && g.digits <= 9, fmt::format("digits must be in [1, 9], got {}", g.digits));
    if (g.task == "arith")
        STRIDE_CHECK(g.op == "add" || g.op == "mul", "op must be add or mul, got '" + g.op + "'");
    uint64_t space = gen_spec_space(g);
    STRIDE_CHECK(static_cast<uint64_t>(g.n) <= space,
                 fmt::format("n = {} exceeds the {} distinct {} problems with digits = {}", g.n, space,
                             g.task, g.digits));
}

uint64_t gen_spec_space(const GenSpec& g) {
    uint64_t values = pow10(g.digits);
    if (g.task == "collatz") return values - 1;  // start values 1 .. 10^digits - 1
    // countdown: the generator gives each length k its share n P(k) of distinct starts (P(k) ~ k^-1.5,
    // job/data_gen.cpp); one-number answers are the tightest, P(1) of n out of 10^digits - 1.
    if (g.task == "countdown")
        return static_cast<uint64_t>(static_cast<double>(values - 1) *
                                     (1.0 - 1.0 / std::sqrt(g.max_len + 1.0)) / (1.0 - 1.0 / std::sqrt(2.0)));
    return values * values;  // ordered operand pairs, zero included
}

}  // namespace stride
