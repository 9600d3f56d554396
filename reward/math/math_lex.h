// Tokens of a LaTeX math answer, for the math verifier's parser (reward/math/math_expr.h).
//
// The lexer already drops what never changes an answer: whitespace, `$`, `\$`, spacing commands,
// `\left`/`\right`/`\big`, `\displaystyle`, and the braces of font and text wrappers (`\text{cm}`,
// `\mathrm{...}`, `\mathbf{...}`) — words inside text wrappers are marked `in_text`, which is how
// the parser tells units (`10\text{ cm}`) from variables. Thousands separators are folded into the
// number (`1,234` outside brackets, `1{,}234`, `1\,234`, `1,\!234`, `1 234`; never after a leading
// 0: `0,111` is not 111); `^\circ` becomes one degree token. `\[ \] \( \)` are delimiters, dropped
// like `$`, and `\\le` outside a matrix is `\le` (a doubled backslash in a program's string).
#pragma once
#include <string_view>
#include <vector>

namespace stride {

enum class Tok : unsigned char {
    end,
    number,  // text: the literal, separators included ("1,234", "1.5e3")
    letter,  // a single ASCII letter: a variable
    word,    // two or more letters (or any letters inside \text{}): a unit, a name or a product
    symbol,  // \pi, \alpha, an unknown command, Unicode pi: a variable named by `text`
    func,    // \sin, \ln...: aux is the MathFunc
    plus,
    minus,
    pm,  // \pm
    mp,  // \mp
    times,
    divide,
    caret,
    underscore,
    lparen,
    rparen,
    lbrack,
    rbrack,
    lbrace,
    rbrace,
    lset,  // \{
    rset,  // \}
    bar,
    comma,
    semicolon,
    eq,
    approx,  // \approx: "= about", an approximation that follows an answer
    colon,   // a ratio "11:21" or a time "12:00"
    lt,
    gt,
    le,
    ge,
    ne,
    in,
    cup,
    bang,
    amp,
    rowsep,  // \\ in a matrix
    percent,
    degree,
    frac,
    sqrt,
    binom,
    infinity,
    emptyset,
    reals,  // \mathbb{R}
    begin_matrix,
    end_matrix,
};

enum class MathFunc : unsigned char {
    sin,
    cos,
    tan,
    sec,
    csc,
    cot,
    asin,
    acos,
    atan,
    sinh,
    cosh,
    tanh,
    ln,
    log,
    exp
};

struct Token {
    Tok kind = Tok::end;
    bool space_before = false;
    bool in_text = false;
    MathFunc func = MathFunc::sin;
    std::string_view text;  // into the source, or a static name ("\pi" for Unicode pi)
};

// Tokens of `src` ending with Tok::end, or false for characters and commands the verifier does not
// understand (the caller then compares text) and for inputs beyond the size and nesting caps.
bool lex_math(std::string_view src, std::vector<Token>* out);

}  // namespace stride
