#!/usr/bin/env python3
"""Second chat-template oracle: Python's Jinja2 set up as transformers' apply_chat_template sets it up
(sandboxed, trim_blocks, lstrip_blocks, loop controls, json.dumps as tojson, raise_exception,
strftime_now). Same files as render_chat.js:

    python3 render_chat_jinja2.py REQUEST.json RESULT.json

REQUEST: [{"template": "...", "context": {...}}, ...];  RESULT: [{"text": "..."} | {"error": "..."}, ...]
Optional: the tests skip it when jinja2 is not installed (Debian: python3-jinja2).
"""
import json
import sys
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    out = []
    compiled = {}  # the real templates come once per conversation: compile each once
    for case in cases:
        try:
            if case["template"] not in compiled:
                compiled[case["template"]] = env.from_string(case["template"])
            out.append({"text": compiled[case["template"]].render(**case["context"])})
        except Exception as e:  # noqa: BLE001 - any failure is the case's result
            out.append({"error": str(e)})
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
