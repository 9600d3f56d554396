// Answer extraction and normalisation for math rewards (the rules of the common MATH/GSM8K graders,
// reimplemented): where the final answer sits in free model output, and LaTeX cosmetics removed.
// The comparison itself is reward/math/math_verify.h.
#pragma once
#include <optional>
#include <string>

namespace stride {

// Content of the last \boxed{...} (or \fbox{...}), nested braces included; "\boxed 5" form too.
std::optional<std::string> extract_last_boxed(const std::string& text);

// The number after the last "####" (GSM8K), commas and $ removed: "#### $1,234." -> "1234".
std::optional<std::string> extract_gsm8k_answer(const std::string& text);

// Content of the last complete math span: $...$, $$...$$, \[...\] or \(...\) ("\$" is a dollar sign).
std::optional<std::string> extract_last_math_span(const std::string& text);

// The last number in the text: "-12", "1,234.5", "3/4"; trailing sentence periods dropped.
std::optional<std::string> extract_last_number(const std::string& text);

// Where an answer came from, for the verifier's detail string.
struct ExtractedAnswer {
    std::string text;
    const char* source = "";  // "boxed", "####", "math span", "whole text", "last number"
};

// The final answer of a model response: the last \boxed{} (a truncated one gives nothing: the answer
// was cut off), else the number after "####", else the whole response when it is a short formula
// without words ("x = 3"), else the last math span or the last number, whichever comes later.
std::optional<ExtractedAnswer> extract_response_answer(const std::string& response);

// The answer of a dataset label: the last \boxed{} or "####" answer of a full solution, else the
// whole label ("$\frac{1}{2}$", "x=3", "28\%", "\text{Monday}"), or for a label that reads as prose
// (two words or more), its last math span or number.
std::optional<ExtractedAnswer> extract_label_answer(const std::string& label);

// Canonical text of an answer: no whitespace, $, \left/\right, \text{}, spacing commands, trailing
// period, degree/percent marks, leading "x="; \dfrac/\tfrac -> \frac; \frac12 -> \frac{1}{2}.
// The verifier's last resort for answers its parser does not cover.
std::string normalize_math_answer(const std::string& answer);

// The answers are equivalent (reward/math/math_verify.h: numbers, expressions, tuples, sets...). Each may
// be bare or hold a \boxed{}. Defined in math_verify.cpp.
bool math_answers_equal(const std::string& a, const std::string& b);

}  // namespace stride
