// stride::Error: the one exception type for bad input and failed invariants.
// Messages name the thing at fault (file, key, tensor, field) and the problem, so that a user
// can fix the input without reading our code.
#pragma once
#include <stdexcept>
#include <string>

namespace stride {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// STRIDE_CHECK(cond, msg): throws stride::Error(msg) when cond is false. msg is any expression
// convertible to std::string, evaluated only on failure.
#define STRIDE_CHECK(cond, msg)                                         \
    do {                                                                \
        if (!(cond)) throw ::stride::Error(std::string(msg));           \
    } while (0)

}  // namespace stride
