# A reward that takes 20 ms per sample (a sandboxed run, a remote judge): slower than generation.
import time


def score(prompt, response, label, **meta):
    time.sleep(0.02)
    return 1.0 if response.strip() == label else 0.0
