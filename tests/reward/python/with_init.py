# init(config) runs once per worker with reward.plugin_config, parsed.
SCALE = None


def init(config):
    global SCALE
    SCALE = config["scale"]


def score(prompt, response, label, **meta):
    return SCALE if response == label else 0.0
