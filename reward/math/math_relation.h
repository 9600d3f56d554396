// The canonical form of what relates or lists the parts of a math answer, as the parser (math_expr.cpp)
// meets them: single-variable inequalities and "x \in S" become intervals or sets ("x > 3" is
// (3, \infty), "|x| < 2" is (-2, 2)), an equation chain is the equation of its last name and last
// value ("x = 5 + 6 = 11" is x = 11), what follows \approx is dropped, and ';'-separated groups of
// labelled values are solution tuples ("p=5,q=2;p=7,q=2" is (5, 2), (7, 2)).
#pragma once
#include <vector>

#include "reward/math/math_tree_builder.h"

namespace stride {

inline bool is_inequality(Tok k) {
    return k == Tok::lt || k == Tok::le || k == Tok::gt || k == Tok::ge;
}
inline bool is_relop(Tok k) {
    return k == Tok::eq || k == Tok::ne || k == Tok::in || is_inequality(k);
}

class MathRelationBuilder : public MathTreeBuilder {
   public:
    using MathTreeBuilder::MathTreeBuilder;

   protected:
    // The node of operands[0] ops[0] operands[1] ... (nops operators: relops or \approx; operands
    // all >= 0): an interval, an equation, a relation, operands[0] alone, or -1.
    int canonical_relation(const int* operands, Tok* ops, int nops);
    // Sets e_->root to the list of solution tuples and returns true when the `count` items, split at
    // `groups` (where each ';' group starts), are groups of two or more "name = value"; else false.
    bool solution_groups(const int* items, size_t count, const std::vector<size_t>& groups);

   private:
    int drop_approximation(const int* x, Tok* ops, int nops) const;
    static bool equal_signs_only(const Tok* ops, int nops);
    int equation_chain(const int* x, int nops);
    int relation(const int* x, const Tok* ops, int nops);
    static constexpr int kNoInterval = -2;
    int interval_of(const int* x, const Tok* ops, int nops, bool lower_first);
    bool plain_name(int id) const;
    bool abs_of_name(int id) const;
    bool has_abs(int id) const;
};

}  // namespace stride
