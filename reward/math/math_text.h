// Text scanning for answer extraction (reward/math/math_answer.h): brace matching, math spans and
// numbers in free text.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace stride::math_text {

bool is_letter(char c);  // ASCII letters
bool is_digit(char c);

// Index just past the brace group opening at `open` (s[open] == '{'), or npos when unbalanced.
// An escaped character ("\{", "\}", "\\") is literal and does not nest.
size_t match_brace(const std::string& s, size_t open);

// The length of the box command whose backslash is at s[p]: 6 for "\boxed", 5 for "\fbox", else 0.
// One definition for every reader of boxes (the last box, the group of boxes, the verifier's reason).
size_t box_command_length(const std::string& s, size_t p);
// Whether the text holds a box command anywhere.
bool has_box_command(const std::string& s);

// Index of the last `c` before `end`, or npos.
size_t last_of(const std::string& s, char c, size_t end);

std::string trimmed(const std::string& s);

// The last complete math span ($...$, $$...$$, \[...\], \(...\)) and the index just past its
// closing delimiter.
std::optional<std::string> last_math_span(const std::string& text, size_t* end_pos);

// The last number ("-12", "1,234.5", "3/4", "4 4/9"; not the 2 of "AZYUK2A") and where it starts.
std::optional<std::string> last_number(const std::string& text, size_t* begin_pos);

}  // namespace stride::math_text
