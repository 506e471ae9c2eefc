"""The statistics the summaries use: mean ± std over seeds, the Wilson interval of a rate, Welch's test against a
published mean."""
from __future__ import annotations

import math
import statistics


def mean_std(values, digits: int = 2) -> str:
    """Accuracies (fractions) of several runs as "mean ± std" in percent; the std over seeds is the sample std."""
    values = list(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.{digits}f} ± {100 * std:.{digits}f}"


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a rate of `successes` in `n` trials (sound at 0 and at n, unlike p ± 2 SE)."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def welch_p(values, mean: float, std: float, n: int) -> float:
    """The two-sided p-value of Welch's t-test between runs' `values` and a published mean ± std over `n` runs."""
    from scipy.stats import ttest_ind_from_stats
    values = list(values)
    ours = statistics.stdev(values) if len(values) > 1 else 0.0
    return float(ttest_ind_from_stats(statistics.mean(values), ours, len(values), mean, std, n, equal_var=False).pvalue)


def rate(values: list[bool]) -> str:
    """"k/n (low–high %)": a rate with its 95 % Wilson interval; "–" for none."""
    if not values:
        return "–"
    low, high = wilson(sum(values), len(values))
    return f"{sum(values)}/{len(values)} ({100 * low:.0f}–{100 * high:.0f} %)"


__all__ = ["mean_std", "wilson", "welch_p", "rate"]
