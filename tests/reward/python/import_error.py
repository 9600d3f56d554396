import module_that_does_not_exist  # noqa: F401


def score(prompt, response, label, **meta):
    return 0.0
