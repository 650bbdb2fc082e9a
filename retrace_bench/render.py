"""Words every workload's report shares: the rule line around a summary, a ratio with its interval."""

RULE = "=" * 78


def ratio_text(r) -> str:
    if r is None:
        return "n/a"
    interval = f"[{r.low:.2f}x .. {r.high:.2f}x]" if r.low is not None else "[no interval: one round]"
    return f"{r.estimate:.2f}x {interval} {r.verdict}"


def pyplot():
    """matplotlib's pyplot drawing to files (no display), or None where matplotlib is missing: every
    chart is then left out, and the text says the same."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt
