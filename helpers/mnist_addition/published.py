"""What MNIST addition is measured against: the published tables, with their sources, and the tests against them."""
from __future__ import annotations

import statistics

from ..core.stats import welch_p

# Published exact-match sum accuracy (%), mean and std where given, of systems that are given the addition program
# and use DeepProbLog's LeNet-style perception, as compiled in DeepProofLog's MNIST-addition table (arXiv:2511.08581,
# AAAI 2026) from the papers named; PLIA's from NeSyDM's table (NeurIPS 2025), which DeepProofLog's does not list. At
# N = 200 and 500 DeepProofLog reports only itself (the others time out). The best first at each N.
PUBLISHED = {
    1: [("DeepStochLog", 97.9, 0.1, "Winters et al., AAAI 2022"), ("NeurASP", 97.3, 0.3, "Yang et al., IJCAI 2020"),
        ("NeuPSL", 97.34, None, "Pryor et al., IJCAI 2023"), ("DeepProbLog", 97.2, 0.5, "Manhaeve et al., NeurIPS 2018")],
    2: [("DeepStochLog", 96.4, 0.1, "Winters et al., AAAI 2022"), ("DeepProbLog", 95.2, 1.7, "Manhaeve et al., NeurIPS 2018"),
        ("NeurASP", 93.9, None, "Yang et al., IJCAI 2020")],
    4: [("DeepProofLog (DP)", 94.0, 0.3, "arXiv:2511.08581, AAAI 2026"), ("DeepSoftLog", 93.5, 0.6, "Maene & De Raedt, NeurIPS 2023"),
        ("DeepStochLog", 92.7, 0.6, "Winters et al., AAAI 2022"), ("A-NeSI", 92.6, 0.8, "van Krieken et al., NeurIPS 2023")],
    15: [("DeepProofLog (DP)", 80.8, 1.1, "arXiv:2511.08581, AAAI 2026"),
         ("PLIA", 79.0, 0.73, "De Smet & Zuidberg Dos Martires, NeurIPS 2024; from NeSyDM's table"),
         ("DeepSoftLog", 77.1, 1.6, "Maene & De Raedt, NeurIPS 2023"), ("A-NeSI", 75.9, 2.2, "van Krieken et al., NeurIPS 2023"),
         ("EXAL", 73.3, 2.1, "Verreet et al., arXiv:2408.08133; from DeepProofLog's table")],
    100: [("DeepProofLog (DP)", 37.8, 2.9, "arXiv:2511.08581, AAAI 2026")],
    200: [("DeepProofLog (DP)", 23.2, 3.0, "arXiv:2511.08581, AAAI 2026")],
    500: [("DeepProofLog (DP)", 6.0, 4.9, "arXiv:2511.08581, AAAI 2026")],
}

# Deep Symbolic Learning (Daniele et al., IJCAI 2023, arXiv:2208.11561) learns the digits and the digit-and-carry table
# from 2-digit sums, as `learned` does, and is tested at longer N: its project page's table (dkm-fbk/dkm-fbk.github.io,
# images/table.png), mean and std of the sum accuracy (%).
DSL = {2: (95.0, 0.7), 4: (88.9, 0.5), 15: (64.1, 1.5), 1000: (0.0, 0.0)}
DSL_SOURCE = "Deep Symbolic Learning, Daniele et al., IJCAI 2023 (arXiv:2208.11561), its project page's table"


def composed(digits: int, accuracy: float = 0.99) -> float:
    """The sum accuracy of a digit classifier of `accuracy` composed exactly: every one of the 2N digits right."""
    return accuracy ** (2 * digits)


def best_published(digits: int) -> str:
    if digits not in PUBLISHED:
        return "–"
    name, mean, std, _ = PUBLISHED[digits][0]
    return f"{name} {mean}" + (f" ± {std}" if std is not None else "")


PUBLISHED_RUNS = 5  # a published std taken as over 5 runs (papers report 5 or 10; 5 is the weaker assumption)


def versus_published(values: list[float], digits: int) -> str:
    """Whether runs' sum accuracies (fractions) differ from the best published mean at N = `digits`: Welch's t-test
    against its mean ± std over PUBLISHED_RUNS runs, "above (p = ...)", "below (...)" or "not significant (...)"."""
    if digits not in PUBLISHED or PUBLISHED[digits][0][2] is None or len(values) < 2:
        return "–"
    _, mean, std, _ = PUBLISHED[digits][0]
    p = welch_p([100 * v for v in values], mean, std, PUBLISHED_RUNS)
    word = ("above" if 100 * statistics.mean(values) > mean else "below") if p < 0.05 else "not significant"
    return f"{word} (p = {p:.2g})"


def dsl(digits: int) -> str:
    if digits not in DSL:
        return "–"
    mean, std = DSL[digits]
    return f"{mean} ± {std}"


__all__ = ["PUBLISHED", "DSL", "DSL_SOURCE", "composed", "best_published", "PUBLISHED_RUNS", "versus_published", "dsl"]
