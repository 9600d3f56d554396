"""Serve a user Python reward function to Stride (reward.fn: python:FILE.py:FUNC).

The C++ side (reward/python_reward.h) starts `python3 -m stride_reward serve FILE.py:FUNC --fd 3`
in a pool of worker processes and speaks the same wire format as C ABI plug-in workers
(reward/plugin_protocol.h), so one pool implementation serves both:

  frame    u32 length (little-endian; same machine as the parent) + that many bytes
  str      u32 length + UTF-8 bytes
  hello    worker -> parent   u8 ok, str message (why not, when ok = 0)
  request  parent -> worker   str prompt, str response, str label, str metadata_json
  reply    worker -> parent   u8 ok, f64 score, str detail

The user function is either `score(prompt, response, label, **meta) -> float | dict` or verl's
`compute_score(data_source, solution_str, ground_truth, extra_info=None)`, told apart by its
parameter names. Only the Python standard library is used here.
"""

import importlib.util
import inspect
import json
import math
import os
import resource
import socket
import struct
import sys
import traceback

_VERL_PARAMS = ("data_source", "solution_str", "ground_truth")


def load_function(path, name):
    """Imports FILE.py and returns its FUNC; the C++ side prefixes errors with the file."""
    if not os.path.isfile(path):
        raise RuntimeError("no such file")
    # The user's own directory first, so that helper modules next to the file import.
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location("stride_user_reward", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # SyntaxError, ImportError, SystemExit at import time ...
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        raise RuntimeError(f"import failed: {last}") from None
    fn = getattr(module, name, None)
    if fn is None:
        raise RuntimeError(f"no function '{name}'")
    if not callable(fn):
        raise RuntimeError(f"'{name}' is not callable")
    return fn


def make_caller(fn):
    """Adapts either signature to call(prompt, response, label, meta)."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    if tuple(params[:3]) == _VERL_PARAMS:
        # verl passes per-sample extras as extra_info; data_source is a metadata key if given.
        def call(prompt, response, label, meta):
            return fn(meta.get("data_source", ""), response, label, extra_info=meta)

        return call
    return lambda prompt, response, label, meta: fn(prompt, response, label, **meta)


def to_score(value):
    """(score, detail) from a user return value; raises TypeError/ValueError when unusable."""
    if isinstance(value, dict):
        if "score" not in value:
            raise ValueError("returned a dict without 'score'")
        detail = value.get("detail", "")
        value = value["score"]
    else:
        detail = ""
    # bool is an int: True/False are full and no credit. Strings, None etc. are errors, not 0.
    if not isinstance(value, (int, float)) or isinstance(value, complex):
        raise TypeError(f"returned {type(value).__name__}, expected float or dict")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"returned non-finite score {value}")
    return value, str(detail)


# --- wire format -----------------------------------------------------------------------------


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack("<I", head)
    return _recv_exact(sock, n)


def send_frame(sock, payload):
    sock.sendall(struct.pack("<I", len(payload)) + payload)


def pack_str(s):
    b = s.encode("utf-8", "replace")
    return struct.pack("<I", len(b)) + b


def unpack_strs(frame, count):
    out, pos = [], 0
    for _ in range(count):
        (n,) = struct.unpack_from("<I", frame, pos)
        pos += 4
        out.append(frame[pos : pos + n].decode("utf-8", "replace"))
        pos += n
    return out


def reply(sock, ok, score=0.0, detail=""):
    send_frame(sock, struct.pack("<Bd", 1 if ok else 0, score) + pack_str(detail))


def _limit_memory(memory_mb):
    # Counted from what the interpreter already maps, as the C++ worker does (plugin_worker.cpp).
    if memory_mb <= 0:
        return
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + (memory_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def serve(target, fd, memory_mb=0):
    sock = socket.socket(fileno=fd)
    path, _, name = target.rpartition(":")
    try:
        if not path or not name:
            raise RuntimeError(f"'{target}' is not FILE.py:FUNCTION")
        call = make_caller(load_function(path, name))
        _limit_memory(memory_mb)
    except Exception as e:
        send_frame(sock, b"\x00" + pack_str(str(e)))
        return 1
    send_frame(sock, b"\x01" + pack_str(""))
    while True:
        frame = recv_frame(sock)
        if frame is None:
            return 0  # the parent closed its end: the pool is shutting down
        prompt, response, label, meta_json = unpack_strs(frame, 4)
        try:
            meta = json.loads(meta_json) if meta_json else {}
            score, detail = to_score(call(prompt, response, label, meta))
        except Exception as e:  # the user's bug costs this item, not the worker
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            reply(sock, False, 0.0, last)
            continue
        reply(sock, True, score, detail)
