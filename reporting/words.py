"""Plain words for a finding: what a (target, feature group) pair says, in the field's terms."""
from __future__ import annotations

#: What each feature group of ``features.groups`` holds; ``{primes_max}`` is filled in.
GROUP_WORDS = {
    "conductor": "the conductor's factorization",
    "weierstrass": "the Weierstrass coefficients",
    "ap": "the traces a_p for p ≤ {primes_max}",
    "mestre_nagao": "the Mestre–Nagao sums",
    "parity": "the root number",
    "bsd": "the other BSD quantities",
    "topology": "the Betti curves of its conductor window's a_p and (c4, c6) clouds",
}

METRIC_WORDS = {"mcc": "MCC", "balanced_accuracy": "balanced accuracy", "r2": "R²", "mae": "MAE"}


def group_words(members: list[str], primes_max: int) -> str:
    """'the traces a_p for p ≤ 100 and the root number' for a search group's feature groups."""
    words = [GROUP_WORDS.get(g, f"the {g} features").format(primes_max=primes_max) for g in members]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _score(row: dict) -> str:
    return (f"{METRIC_WORDS.get(row['metric'], row['metric'])} {row['score']:.3f} "
            f"[{row['score_low']:.3f}, {row['score_high']:.3f}]")


def statement(row: dict, target: str, group: str) -> str:
    """One sentence: the verdict on predicting ``target`` (its description) from ``group``."""
    verdict, target = row["verdict"], target[0].upper() + target[1:]
    baseline = f"the {row['best_baseline']} baseline ({row['baseline_score']:.3f})"
    if verdict == "flagged":
        return (f"{target} is predictable from {group} beyond {baseline}: {_score(row)}, "
                f"above the {row['null_model']} null model (95% quantile "
                f"{row['null_quantile']:.3f}), and on the largest conductors "
                f"({row['extrapolation_score']:.3f} against {row['extrapolation_baseline']} "
                f"{row['extrapolation_baseline_score']:.3f}).")
    if verdict == "fails extrapolation":
        return (f"{target} from {group} beats {baseline} in cross-validation ({_score(row)}) "
                f"but not {row['extrapolation_baseline']} on the largest conductors "
                f"({row['extrapolation_score']:.3f} against "
                f"{row['extrapolation_baseline_score']:.3f}).")
    if verdict == "not predictable":
        return f"{target} is not predictable from {group}: {_score(row)}."
    if verdict.endswith("null model"):
        return (f"{target} from {group} ({_score(row)}) is matched by the {row['null_model']} "
                f"null model (95% quantile {row['null_quantile']:.3f}).")
    return f"{target} from {group} ({_score(row)}) is {verdict}: {row['reason']}."
