// The value of a number literal of a math answer: "12", "1,234.5", "1.5e3", "0.1\overline{6}".
#pragma once
#include <string_view>

#include "reward/math/math_value.h"

namespace stride {

// Exact when it fits 128 bits, approximate beyond, undefined past the range of a double ("1e400").
// Thousands separators (",", "{,}", "\,", ",\!", " ") are skipped.
Value number_value(std::string_view text);

}  // namespace stride
