// Where a response states its final answer besides its last \boxed{}: several boxes that together
// are the answer ("\boxed{1} and \boxed{2}"), and "The final answer is X." after the last box.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

#include "reward/math/math_answer.h"

namespace stride {

// The last \boxed{} and the boxes joined to it (side by side, between commas, or by "and"/"or" and a
// few words), as one list ("1, 2"); *end: just past the last box. nullopt when no box is complete.
std::optional<std::string> last_box_group(const std::string& text, size_t* end);

// The answer a sentence "... answer is X." states after `from`, X right after the phrase (not "the
// answer is not 5"): its one math span, or when it has no math at all its one number, or the sentence
// itself when it holds several ("5 or 6": a list, so a hedge never scores); nothing when there is no
// such sentence or it holds several spans.
std::optional<ExtractedAnswer> stated_final_answer(const std::string& text, size_t from);

}  // namespace stride
