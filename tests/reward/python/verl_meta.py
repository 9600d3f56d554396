# verl's custom reward signature; echoes what it was given, so tests see data_source and extra_info.
def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    extra = ",".join(f"{k}={extra_info[k]}" for k in sorted(extra_info))
    return {"score": 1.0 if solution_str == ground_truth else 0.0, "detail": f"{data_source} {extra}"}
