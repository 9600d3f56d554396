// Answer extraction and normalisation for math rewards (the rules of the common MATH/GSM8K graders,
// reimplemented: last \boxed{}, LaTeX cosmetics removed, numbers compared as exact rationals).
#pragma once
#include <optional>
#include <string>

namespace stride {

// Content of the last \boxed{...} (or \fbox{...}), nested braces included; "\boxed 5" form too.
std::optional<std::string> extract_last_boxed(const std::string& text);

// The number after the last "####" (GSM8K), commas and $ removed: "#### $1,234." -> "1234".
std::optional<std::string> extract_gsm8k_answer(const std::string& text);

// Canonical text of an answer: no whitespace, $, \left/\right, \text{}, spacing commands, trailing
// period, degree/percent marks, leading "x="; \dfrac/\tfrac -> \frac; \frac12 -> \frac{1}{2}.
std::string normalize_math_answer(const std::string& answer);

// Equal after normalisation, or equal as exact rationals, or tuples/intervals equal element-wise.
bool math_answers_equal(const std::string& a, const std::string& b);

}  // namespace stride
