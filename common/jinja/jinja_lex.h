// The lexer of the Jinja subset: template source into pieces of text and tags, each tag tokenized,
// with whitespace control ({%- -%} {{- -}} {#- -#}) and trim_blocks/lstrip_blocks applied as
// transformers renders chat templates. The parser (jinja_parse.cpp) reads the pieces.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/jinja/jinja_ast.h"

namespace stride::jinja {

// A token's type; `op` is punctuation and operators, `end` past the last token of a tag.
enum class T { name, integer, floating, string, op, end };

struct Tok {
    T type;
    std::string text;
    Pos pos;
    int64_t i = 0;
    double f = 0;
};

// One {{ ... }} or {% ... %} tag, tokenized.
struct Tag {
    bool statement;
    Pos pos;
    std::vector<Tok> toks;
};

// A piece of the template: text, or a tag.
struct Piece {
    bool is_text;
    std::string text;
    Tag tag;
};

// The pieces of `src`, in order. Throws Error "<name>: line L, column C: ..." on an unclosed tag or
// comment, or a character no token starts with.
std::vector<Piece> lex_template(std::string_view src, const std::string& name);

}  // namespace stride::jinja
