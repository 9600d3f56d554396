"""Loading a user's reward file and calling its function, whatever its signature.

Two signatures are understood, told apart by parameter names:

  score(prompt, response, label, **meta) -> float | dict      Stride's own
  compute_score(data_source, solution_str, ground_truth, extra_info=None)     verl's custom reward
  compute_score(solution_str, ground_truth, ...)              verl's per-dataset scorers

meta holds response_tokens, truncated, data_source and extra_info (a dict); a function without
**meta gets only the keys it names. verl's extra_info is the prompt's extra_info with
response_tokens and truncated added.
"""

import importlib.util
import inspect
import json
import math
import numbers
import os
import sys
import traceback

_VERL_PARAMS = ("data_source", "solution_str", "ground_truth")
_VERL_SHORT_PARAMS = ("solution_str", "ground_truth")
_META_KEYS = ("response_tokens", "truncated", "data_source", "extra_info")


def describe(exc):
    """'ValueError: bad sample': the last line of the traceback, for a sample's detail."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def load_module(path):
    """Imports FILE.py; the C++ side prefixes errors with the file."""
    if not os.path.isfile(path):
        raise RuntimeError("no such file")
    # The user's own directory first, so that helper modules next to the file import.
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location("stride_user_reward", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # SyntaxError, ImportError, SystemExit at import time ...
        raise RuntimeError(f"import failed: {describe(e)}") from None
    return module


def get_function(module, name):
    fn = getattr(module, name, None)
    if fn is None:
        raise RuntimeError(f"no function '{name}'")
    if not callable(fn):
        raise RuntimeError(f"'{name}' is not callable")
    return fn


def run_init(module, config_json):
    """Calls the file's init(config) once per worker, if it defines one; config is the parsed
    reward.plugin_config."""
    init = getattr(module, "init", None)
    if not callable(init):
        return
    try:
        init(json.loads(config_json) if config_json else {})
    except Exception as e:
        raise RuntimeError(f"init failed: {describe(e)}") from None


def _extra_info(text):
    return json.loads(text) if text and text != "{}" else {}


def _label(it):
    """The ground truth with the type the dataset gave it (a list, a dict, a number), as verl passes it."""
    return json.loads(it.label_json) if it.label_json else it.label


def make_caller(fn):
    """call(item) for a RewardItem message (proto/stride.proto), whatever fn's signature."""
    try:
        sig = inspect.signature(fn)
        params = list(sig.parameters)
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    except (TypeError, ValueError):  # some builtins and C functions have no signature
        params, takes_kwargs = [], True
    if tuple(params[:3]) == _VERL_PARAMS:
        with_extra = "extra_info" in params or takes_kwargs

        def call(it):
            if not with_extra:
                return fn(it.data_source, it.response, _label(it))
            extra = _extra_info(it.extra_info_json)
            extra["response_tokens"] = it.response_tokens
            extra["truncated"] = it.truncated
            return fn(it.data_source, it.response, _label(it), extra_info=extra)

        return call
    if tuple(params[:2]) == _VERL_SHORT_PARAMS:
        return lambda it: fn(it.response, _label(it))
    keys = _META_KEYS if takes_kwargs else tuple(k for k in _META_KEYS if k in params)
    if not keys:
        return lambda it: fn(it.prompt, it.response, _label(it))

    def call(it):
        meta = {
            "response_tokens": it.response_tokens,
            "truncated": it.truncated,
            "data_source": it.data_source,
            "extra_info": _extra_info(it.extra_info_json),
        }
        if len(keys) < len(_META_KEYS):
            meta = {k: meta[k] for k in keys}
        return fn(it.prompt, it.response, _label(it), **meta)

    return call


def to_score(value):
    """(score, detail) from a user return value; raises TypeError/ValueError when unusable."""
    detail = ""
    if isinstance(value, dict):
        if "score" not in value:
            raise ValueError("returned a dict without 'score'")
        detail = str(value.get("detail", ""))
        value = value["score"]
    # bool is an int: True/False are full and no credit. numpy scalars are numbers.Real. Strings,
    # None etc. are errors, not 0.
    if type(value) is not float and type(value) is not int and not isinstance(value, numbers.Real):
        raise TypeError(f"returned {type(value).__name__}, expected float or dict")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"returned non-finite score {value}")
    return value, detail
