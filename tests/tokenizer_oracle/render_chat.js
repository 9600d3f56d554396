// Test oracle for chat templates: renders Jinja templates with @huggingface/jinja (HF's JavaScript
// port, what transformers.js runs) so the C++ tests can compare Stride's renderings string for string.
//
//   node render_chat.js REQUEST.json RESULT.json
//
// REQUEST: [{"template": "...", "context": {...}}, ...]   (context: the template's variables)
// RESULT:  [{"text": "..."} | {"error": "..."}, ...]      (one per case, in order)
"use strict";
const fs = require("fs");
const { Template } = require("@huggingface/jinja");

const [request, result] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(request, "utf8"));
const out = cases.map(({ template, context }) => {
  try {
    return { text: new Template(template).render(context) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
fs.writeFileSync(result, JSON.stringify(out));
