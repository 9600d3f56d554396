// A parsed math answer: the syntax tree the verifier compares (reward/math/math_equiv.h).
//
// Grammar (loosest binding first):
//   answer   := item ((',' | ';' | "or" | "and") item)*     several items: an unordered list
//   item     := ratio ((relop | \approx) ratio)*              = < > \le \ge \ne \in
//   ratio    := union (':' union)*                           11:21, V_1:V_2
//   union    := sum (\cup sum)*
//   sum      := term (('+' | '-' | \pm | \mp) term)*
//   term     := unary (('*' | \cdot | \times | '/' | \div | implicit) unary)*   units after a number dropped
//   unary    := ('-' | '+') unary | power
//   power    := primary ('^' exponent)? ('!' | '%' | degree)*
//   primary  := number | number_base | variable | \frac | \sqrt[n] | \binom | function | |x| | \infty
//             | (..) [..] tuples and intervals | \{..\} sets | matrix environments | {..}
// Single-variable inequalities and "x \in S" become intervals/sets here ("x > 3" is (3, \infty));
// "x = 3" stays an equation, and the comparison decides whether to look at its right side only;
// a chain "x = 5 + 6 = 11" is the equation of its last name and last value (x = 11), and what
// follows \approx is dropped ("\frac{\sqrt3}{3} \approx 0.577" is \frac{\sqrt3}{3}).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "reward/math/math_lex.h"
#include "reward/math/math_value.h"

namespace stride {

enum class NodeKind : unsigned char {
    number,      // numbers[index]; base > 0 for "1010_2" (digits kept for comparing numerals)
    symbol,      // a variable: symbols[index]
    neg,         // -a
    add,         // kids summed
    mul,         // kids multiplied
    div,         // a / b
    pow,         // a ^ b
    root,        // b-th root of a (b < 0: square root)
    func,        // func(a), log with base b
    factorial,   // a!
    binom,       // binom(a, b)
    abs,         // |a|
    plus_minus,  // a ± b (sign +1) or a ∓ b (sign -1); a < 0: ±b
    infinity,
    tuple,     // kids between `open` and `close`: (1,2), [0,1), (1, \infty)
    set,       // \{kids\}: unordered
    list,      // kids of "1, 2" or a union: unordered
    matrix,    // rows x cols kids, row-major
    relation,  // kids[0] op kids[1] (op2 kids[2])
};

struct Node {
    NodeKind kind = NodeKind::number;
    char open = 0, close = 0;  // tuple brackets
    Tok op = Tok::end, op2 = Tok::end;
    MathFunc func = MathFunc::sin;
    signed char sign = 1;  // plus_minus
    bool has_pm = false;   // a ± somewhere below: the node stands for two values
    bool names = false;    // only names: x, f(x), |AB|, V_1:V_2 (the label of a labelled answer)
    int a = -1, b = -1;
    int first = 0, count = 0;  // kids[first, first + count)
    int rows = 0, cols = 0;
    int index = -1;  // numbers / symbols
    int base = 0;
    int digits_pos = 0, digits_len = 0;  // number literal as written, in MathExpr::source
};

struct MathExpr {
    std::vector<Node> nodes;
    std::vector<int> kids;
    std::vector<Value> numbers;
    std::vector<std::string> symbols;  // distinct names: "x", "x_1", "\pi", "monday"
    int root = -1;
    std::string source;  // the text parsed
};

// Parses an extracted answer ("\frac{1}{2}", "x = 3", "[1, 3)", "\begin{pmatrix}1\\2\end{pmatrix}").
// False for what the grammar does not cover; the caller then compares text. Bounded: at most 4096
// characters, 128 levels of nesting.
bool parse_math_answer(std::string_view text, MathExpr* out);

}  // namespace stride
