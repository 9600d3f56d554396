// A Jinja subset interpreter: what Hugging Face chat templates (tokenizer_config.json's
// `chat_template`) use, and nothing more.
//
// Why our own: Debian packages no C++ Jinja library (minja and jinja2cpp are not in the archive), and
// Stride's dependencies are Debian packages only. The subset is the one HF's own JavaScript port
// (@huggingface/jinja) and llama.cpp's minja cover for chat templates:
//
//   statements  if/elif/else, for (loop.index/index0/revindex/revindex0/first/last/length/previtem/
//               nextitem, `for x in xs if cond`, `for k, v in d.items()`, else, break, continue), set
//               (`set x = e`, `set a, b = e`, `set ns.attr = e`, block `set x %}...{% endset`), macro
//               (positional, keyword and default arguments), generation/endgeneration (no-ops),
//               comments, whitespace control ({%- -%} {{- -}} {#- -#}), trim_blocks and lstrip_blocks
//               as transformers renders chat templates
//   expressions literals (strings, numbers, booleans, none, lists, tuples, dicts), attribute and item
//               access, slicing, calls, arithmetic (+ - * / // % **), `~`, comparisons, `in`/`not in`,
//               and/or/not, `x if c else y`, filters and tests (below), raise_exception, range,
//               namespace, strftime_now, string methods (startswith endswith split rsplit strip lstrip
//               rstrip upper lower title capitalize replace find count join), dict methods (items keys
//               values get)
//   filters     trim tojson length count default d upper lower title capitalize items join first last
//               list string int float abs reverse sort unique replace select reject selectattr rejectattr map
//               safe indent dictsort
//   tests       defined undefined none string number integer float boolean true false mapping
//               sequence iterable callable odd even lower upper eq equalto ne divisibleby in
//
// Semantics follow Python's Jinja (what transformers renders with): `{{ none }}` prints "None",
// booleans print "True"/"False", strip('\n') strips only newlines, tojson is json.dumps with
// ensure_ascii off. Anything else (include, extends, block, call, filter blocks, other filters, tests,
// methods or functions) is refused when the template is parsed, naming the construct and its line and
// column. Rendering is bounded (Limits): nesting depth, steps, and the size of the output and of every
// string or list a template builds, so a hostile template ends with an Error instead of hanging.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace stride::jinja {

struct Limits {
    int max_depth = 64;             // nested statements, and parentheses/brackets/unary operators
    int max_tree_depth = 256;       // an expression's tree (chains of + ~ | . ...) and any value's nesting
    int max_call_depth = 16;        // nested macro calls
    int64_t max_steps = 5'000'000;  // evaluated nodes and loop iterations per render
    size_t max_output_bytes = 16u << 20;  // the rendering, and any one string built on the way
    size_t max_list_items = 1u << 20;     // any one list built on the way (range, +, *)
};

struct Program;  // the parsed template (jinja_ast.h)

class Template {
   public:
    // Parses `source`. Throws stride::Error "<name>: line L, column C: ..." on a syntax error or a
    // construct outside the subset.
    explicit Template(std::string_view source, std::string name = "template", Limits limits = {});
    // Renders with the keys of `context` (a JSON object) as variables. Throws stride::Error on a
    // runtime error, a raise_exception() call ("<name>: raise_exception: MSG") or a limit exceeded.
    std::string render(const nlohmann::ordered_json& context) const;

   private:
    std::shared_ptr<const Program> program_;
    std::string name_;
    Limits limits_;
};

}  // namespace stride::jinja
