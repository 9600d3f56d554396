# A plain Stride reward: full credit for the exact answer, half for a right answer with extra text.
def score(prompt, response, label, **meta):
    got = response.strip()
    if got == label:
        return 1.0
    if label in got:
        return {"score": 0.5, "detail": f"contains {label}"}
    return {"score": 0.0, "detail": f"expected {label}, got {got}"}
