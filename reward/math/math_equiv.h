// Equivalence of two parsed math answers (reward/math/math_expr.h), the core of the math verifier.
//
//   numbers and expressions  equal values: exact arithmetic on rationals and square roots
//                            (reward/math/math_value.h), a 1e-9 relative tolerance once a side is
//                            approximate (cube roots, logs); with variables, both sides are evaluated
//                            at three points of rational values, exactly where possible — a
//                            polynomial identity test, not string matching (2x+1 == 1+2x)
//   tuples, intervals        same brackets, elements equal in order: (1,2) != [1,2]
//   sets, lists, unions      unordered: \{1,2\} == \{2,1\}, "1, 2" == "2, 1", A \cup B == B \cup A;
//                            a ± item counts as its two values: 1 \pm \sqrt{2} == 1+\sqrt2, 1-\sqrt2
//   matrices                 same shape, entries equal; a one-row or one-column matrix also equals
//                            the tuple of its entries
//   equations                "x = 3" vs "3": the right side; two equations: the same relation up to
//                            a constant factor (y = 2x + 1 == 2x - y + 1 = 0)
//   numerals in a base       1010_2 == 1010 (the same numeral) and == 10_{10}... by value otherwise
#pragma once
#include "reward/math/math_expr.h"

namespace stride {

struct MathEquivalence {
    bool equal = false;
    const char* how = "";  // equal: "exact", "numeric" (within tolerance), "symbolic" (with variables)
};

MathEquivalence math_equivalent(const MathExpr& pred, const MathExpr& gold);

}  // namespace stride
