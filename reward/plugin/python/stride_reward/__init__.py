"""Serve a user Python reward function to Stride (reward.fn: python:FILE.py:FUNC).

A Stride reward pool (reward/plugin/python_reward.h) starts workers as

  python3 -m stride_reward serve FILE.py:FUNC --connect ENDPOINT [--memory-mb MB]

each of which connects to the pool's ZeroMQ endpoint, loads FILE.py (and calls its init(config) if
it defines one), then scores batches of samples with FUNC until the pool stops it: worker.py holds the
loop and the protocol, adapt.py the signatures understood (Stride's score(prompt, response, label,
**meta) and verl's compute_score(data_source, solution_str, ground_truth, extra_info=None)).

Only the standard library and Debian's python3-zmq and python3-protobuf are used.
"""

from .worker import serve  # noqa: F401
