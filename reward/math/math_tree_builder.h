// The nodes of a parsed math answer (math_expr.h), made one at a time: each node knows whether a ±
// is below it (has_pm) and whether it is only names (the label of a labelled answer: x, f(x), |AB|).
// At most kMaxMathNodes nodes: past that, and after any failure, every call returns -1 and failed()
// stays true. A child id of -1 (a failed sub-parse) makes the parent -1 too.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "reward/math/math_expr.h"

namespace stride {

constexpr size_t kMaxMathNodes = 4096;

class MathTreeBuilder {
   public:
    explicit MathTreeBuilder(MathExpr* e) : e_(e) {}
    bool failed() const { return failed_; }

   protected:
    int add(Node n);  // n with has_pm and names filled in; its id
    int unary(NodeKind kind, int a);
    int binary(NodeKind kind, int a, int b);
    // add and mul of one kid are that kid.
    int nary(NodeKind kind, const int* kids, size_t count);
    int nary(NodeKind kind, std::initializer_list<int> kids) { return nary(kind, kids.begin(), kids.size()); }
    int leaf(NodeKind kind);
    int symbol(std::string name);                         // one symbols[] entry per distinct name
    int number(const Value& v, std::string_view digits);  // digits: a view into e_->source
    int interval(int lo, int hi, bool lo_closed, bool hi_closed);
    int infinity(bool negative);
    bool is_variable(int id) const;
    bool names(int id) const;

    MathExpr* e_;
    bool failed_ = false;

   private:
    bool names_only(const Node& n) const;
};

}  // namespace stride
