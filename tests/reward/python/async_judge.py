# An async reward, as an LLM judge or a remote verifier would be written: the samples of one request
# are awaited together, so each reports how many were in flight at once when it finished.
import asyncio

in_flight = 0
peak = 0


async def score(prompt, response, label, **meta):
    global in_flight, peak
    in_flight += 1
    peak = max(peak, in_flight)
    try:
        await asyncio.sleep(0.05)
        if label == "bad":
            raise ValueError("bad sample")
        return {"score": 1.0 if response.strip() == label else 0.0, "detail": f"in flight {peak}"}
    finally:
        in_flight -= 1
