# verl's compute_score that asserts the ground truth kept the type the dataset gave it: the row's
# data_source names the type. The detail echoes the value as JSON, so tests compare it exactly.
import json

EXPECTED = {"list": list, "dict": dict, "int": int, "float": float, "str": str, "bool": bool}


def compute_score(data_source, solution_str, ground_truth, extra_info=None):
    want = EXPECTED[data_source]
    if type(ground_truth) is not want:
        raise TypeError(f"{data_source}: got {type(ground_truth).__name__} {ground_truth!r}")
    return {"score": 0.0, "detail": f"{data_source} {json.dumps(ground_truth, sort_keys=True)}"}
