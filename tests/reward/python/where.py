# Reports which copy of the stride_reward package serves it (installed or source tree).
import os
import sys


def score(prompt, response, label, **meta):
    return {"score": 1.0, "detail": os.path.dirname(os.path.abspath(sys.modules["stride_reward"].__file__))}
