# Misbehaves unless the label is "ok", so one pool shows the failure and then a good call.
import os  # noqa: F401
import time  # noqa: F401


def score(prompt, response, label, **meta):
    if label == "ok":
        return 1.0
    time.sleep(100)
