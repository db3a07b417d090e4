"""Plain words for a finding: what a (target, feature group) pair says, in the field's terms."""
from __future__ import annotations

import polars as pl

from models.verdicts import FAILS_EXTRAPOLATION, FLAGGED, NOT_PREDICTABLE, explained_by_null

METRIC_WORDS = {"mcc": "MCC", "balanced_accuracy": "balanced accuracy", "r2": "R²", "mae": "MAE"}


def _score(row: dict) -> str:
    return (f"{METRIC_WORDS.get(row['metric'], row['metric'])} {row['score']:.3f} "
            f"[{row['score_low']:.3f}, {row['score_high']:.3f}]")


def statement(row: dict, target: str, group: str) -> str:
    """One sentence: the verdict on predicting ``target`` (its description) from ``group``."""
    verdict, target = row["verdict"], target[0].upper() + target[1:]
    baseline = f"the {row['best_baseline']} baseline ({row['baseline_score']:.3f})"
    if verdict == FLAGGED:
        return (f"{target} is predictable from {group} beyond {baseline}: {_score(row)}, "
                f"above the {row['null_model']} null model ({row['null_level']:.0%} quantile "
                f"{row['null_quantile']:.3f}), and on the largest conductors "
                f"({row['extrapolation_score']:.3f} against {row['extrapolation_baseline']} "
                f"{row['extrapolation_baseline_score']:.3f}).")
    if verdict == FAILS_EXTRAPOLATION:
        return (f"{target} from {group} beats {baseline} in cross-validation ({_score(row)}), "
                f"by less on the largest conductors ({row['extrapolation_score']:.3f} against "
                f"{row['extrapolation_baseline']} {row['extrapolation_baseline_score']:.3f}: "
                f"an added value whose interval reaches 0 and lies below the cross-validated one).")
    if verdict == NOT_PREDICTABLE:
        return f"{target} is not predictable from {group}: {_score(row)}."
    if verdict == explained_by_null(row["null_model"]):
        return (f"{target} from {group} ({_score(row)}) is matched by the {row['null_model']} "
                f"null model ({row['null_level']:.0%} quantile {row['null_quantile']:.3f}).")
    return f"{target} from {group} ({_score(row)}) is {verdict}: {row['reason']}."


def headline(findings: pl.DataFrame, fdr: float) -> list[str]:
    """What the search found and what it could have found, in sentences that name only the
    tests that ran: how many pairs the added-value test decided alone (their null datasets,
    confirmation and extrapolation were not fitted), and the added value each unflagged pair
    could have detected at 90% power (:func:`models.verdicts.detectable`), by metric."""
    flagged = findings.filter(pl.col("verdict") == FLAGGED)
    screened = int(findings["screened"].fill_null(False).sum()) if "screened" in \
        findings.columns else 0
    lines = [f"**Found:** {len(flagged)} flagged of {len(findings)}. "
             f"{screened} pairs were decided by the added-value test alone (their features add "
             f"nothing significant beyond what they know; null datasets, confirmation and "
             f"extrapolation were not fitted for them); {len(findings) - screened} went on to "
             f"the null datasets and the later tests."]
    if "detectable_added_value" not in findings.columns:
        return lines
    unflagged = findings.filter(pl.col("verdict") != FLAGGED,
                                pl.col("detectable_added_value").is_not_null())
    parts = []
    for metric, rows in unflagged.group_by("metric", maintain_order=True):
        values = rows["detectable_added_value"]
        parts.append(f"{METRIC_WORDS.get(metric[0], metric[0])} median {values.median():.3f} "
                     f"(from {values.min():.3f} to {values.max():.3f}, {len(rows)} pairs)")
    closed = int(findings["detectable_added_value"].is_null().sum())
    exact = (int(findings["exact_law"].is_not_null().sum())
             if "exact_law" in findings.columns else 0)
    if parts:
        lines.append("**Could have found:** an added value at least this large, beyond what "
                     "each pair knows, would have passed the added-value test with 90% power "
                     f"at Benjamini–Hochberg's strictest threshold ({fdr}/{len(findings)}): "
                     + "; ".join(parts) + ". The later tests can only raise these figures."
                     + (f" In {exact} pairs a law computes the target (Tate's algorithm "
                        "from the equation computes the Tamagawa product)" if exact else "")
                     + (f"{' and in' if exact else ' In'} {closed - exact} pairs what the pair "
                        "knows reads every feature (the parity conjecture reads the root "
                        "number)" if closed > exact else "")
                     + (", so the features had nothing to add." if closed else ""))
    return lines


# --- The findings table, as the dashboard and the report show it -----------------------------
#: The displayed columns of the findings table: (column, label, format). Formats: "text",
#: "score" (3 decimals), "p" (scientific notation: q-values reach 1e-26). A column missing from
#: a findings table is skipped, so a column the findings engine adds is shown by adding it here.
FINDINGS_COLUMNS: list[tuple[str, str, str]] = [
    ("target", "target", "text"),
    ("group", "features", "text"),
    ("verdict", "verdict", "text"),
    ("reason", "why", "text"),
    ("metric", "metric", "text"),
    ("score", "model", "score"),
    ("score_low", "model low", "score"),
    ("score_high", "model high", "score"),
    ("best_baseline", "best baseline", "text"),
    ("baseline_score", "baseline", "score"),
    ("effect", "effect", "score"),
    ("known_formula", "best applicable law", "text"),
    ("known_formula_score", "law", "score"),
    ("known_gbm_score", "GBM on what it knows", "score"),
    ("added_value", "added value", "score"),
    ("added_value_low", "added low", "score"),
    ("added_value_high", "added high", "score"),
    ("detectable_added_value", "could have detected (90% power)", "score"),
    ("related_laws", "related laws, not read", "text"),
    ("confirmation_added_value", "added (held-out families)", "score"),
    ("q_value", "BH q (parametric p)", "p"),
    ("q_confirmation", "BH q, held-out", "p"),
    ("p_null", "p null (normal fit)", "p"),
    ("p_null_empirical", "p null (empirical)", "p"),
    ("p_added", "p added (normal fit)", "p"),
    ("p_added_empirical", "p added (empirical)", "p"),
    ("screened", "screened (nulls, confirmation, extrapolation not run)", "text"),
    ("null_model", "null model", "text"),
    ("null_quantile", "null quantile (search.null_quantile)", "score"),
]
#: The columns of the report's table of the findings that are not detailed (a subset of the
#: above, in this order).
REPORT_COLUMNS = ["target", "group", "metric", "score", "best_baseline", "baseline_score",
                  "added_value", "detectable_added_value", "q_value"]
#: Within a verdict kind, findings are sorted by this column, largest first: the information
#: the features add beyond what the pair knows.
FINDINGS_SORT = "added_value"


def cell_text(value, kind: str) -> str:
    """A findings cell as text: scores to 3 decimals, p- and q-values in scientific notation
    (below double precision's resolution of 1 − p, "< 1e-16")."""
    if value is None:
        return "—"
    if kind == "score":
        return f"{value:.3f}"
    if kind == "p":
        return "< 1e-16" if value < 1e-16 else f"{value:.2e}"
    return str(value)

# --- Baselines and features in words ---------------------------------------------------------


