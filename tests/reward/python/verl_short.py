# The signature of verl's per-dataset scorers (verl.utils.reward_score.gsm8k.compute_score).
def compute_score(solution_str, ground_truth, method="strict", format_score=0.0, score=1.0):
    return score if solution_str.strip() == ground_truth else format_score
