# Scores every sample with $STRIDE_TEST_SCORE (default 0.25): tells which worker, started with which
# environment, scored a sample (tests/reward/plugin/test_reward_bridge.cpp).
import os


def score(prompt, response, label, **meta):
    return float(os.environ.get("STRIDE_TEST_SCORE", "0.25"))
