// An ASCII identifier, [A-Za-z_][A-Za-z0-9_]*: what a C symbol prefix of a plug-in and a Python
// function name (python: rewards, code_exec's fn_name) must be before they are handed on.
#pragma once
#include <algorithm>
#include <cctype>
#include <string>

namespace stride {

inline bool is_identifier(const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace stride
