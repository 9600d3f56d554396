# Names the metadata it wants instead of taking **meta: gets exactly those keys.
def score(prompt, response, label, data_source, truncated):
    return {"score": 1.0, "detail": f"{data_source} {truncated}"}
