"""Plain words for a finding: what a (target, feature group) pair says, in the field's terms."""
from __future__ import annotations

import polars as pl

#: What each feature group of ``features.groups`` holds; ``{primes_max}`` is filled in.
GROUP_WORDS = {
    "conductor": "the conductor's factorization",
    "weierstrass": "the Weierstrass coefficients",
    "ap": "the traces a_p for p ≤ {primes_max}",
    "mestre_nagao": "the Mestre–Nagao sums",
    "parity": "the root number",
    "bsd": "the other BSD quantities",
    "topology": "the Betti curves of its conductor window's a_p and (c4, c6) clouds",
    "invariants": "the modular degree, isogeny class, Szpiro ratio, low zeros and 2-Selmer rank",
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
                f"above the {row['null_model']} null model ({row['null_level']:.0%} quantile "
                f"{row['null_quantile']:.3f}), and on the largest conductors "
                f"({row['extrapolation_score']:.3f} against {row['extrapolation_baseline']} "
                f"{row['extrapolation_baseline_score']:.3f}).")
    if verdict == "fails extrapolation":
        return (f"{target} from {group} beats {baseline} in cross-validation ({_score(row)}), "
                f"by less on the largest conductors ({row['extrapolation_score']:.3f} against "
                f"{row['extrapolation_baseline']} {row['extrapolation_baseline_score']:.3f}: "
                f"an added value whose interval reaches 0 and lies below the cross-validated one).")
    if verdict == "not predictable":
        return f"{target} is not predictable from {group}: {_score(row)}."
    if verdict.endswith("null model"):
        return (f"{target} from {group} ({_score(row)}) is matched by the {row['null_model']} "
                f"null model ({row['null_level']:.0%} quantile {row['null_quantile']:.3f}).")
    return f"{target} from {group} ({_score(row)}) is {verdict}: {row['reason']}."


def headline(findings: pl.DataFrame, fdr: float) -> list[str]:
    """What the search found and what it could have found, in sentences that name only the
    tests that ran: how many pairs the added-value test decided alone (their null datasets,
    confirmation and extrapolation were not fitted), and the added value each unflagged pair
    could have detected at 90% power (:func:`models.findings.detectable`), by metric."""
    flagged = findings.filter(pl.col("verdict") == "flagged")
    screened = int(findings["screened"].fill_null(False).sum()) if "screened" in \
        findings.columns else 0
    lines = [f"**Found:** {len(flagged)} flagged of {len(findings)}. "
             f"{screened} pairs were decided by the added-value test alone (their features add "
             f"nothing significant beyond what they know; null datasets, confirmation and "
             f"extrapolation were not fitted for them); {len(findings) - screened} went on to "
             f"the null datasets and the later tests."]
    if "detectable_added_value" not in findings.columns:
        return lines
    unflagged = findings.filter(pl.col("verdict") != "flagged",
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


# --- Verdicts by kind -------------------------------------------------------------------------
#: The kinds of verdict, in the order a reader wants them (flagged first), each with the test
#: that puts a verdict in it. A new verdict ("explained by <baseline>", "not replicated", ...)
#: falls into its kind by these tests, so it gets a colour and a place in the sort order.
VERDICT_KINDS: dict[str, str] = {
    "flagged": "the features add value beyond everything the pair knows (the laws of known "
               "mathematics its group determines the inputs of, and what it derives), beat its "
               "null model, are confirmed on held-out twist families, hold on the largest "
               "conductors and survive the conductor-bias checks: a candidate for new "
               "mathematics",
    "explained": "the features add nothing significant beyond a law of known mathematics, the "
                 "GBM on what the pair knows, or a quasirandom null model",
    "artefact": "adds value in cross-validation but fails a later check: the largest "
                "conductors, conductor bias with positive evidence, or a replication that "
                "could not be tried or was too small to tell",
    "not predictable": "neither the features nor what the pair knows predict it beyond a "
                       "constant, as far as the run could detect",
    "other": "not confirmed on the held-out twist families, not significant after the "
             "correction for multiple comparisons, or borderline (within numeric noise of a "
             "threshold)",
}


def verdict_kind(verdict: str) -> str:
    """The kind (a key of :data:`VERDICT_KINDS`) of a verdict of :func:`models.findings.decide`."""
    if verdict == "flagged":
        return "flagged"
    if verdict.startswith("explained"):
        return "explained"
    if "artefact" in verdict or verdict.startswith(("fails", "not replicated")):
        return "artefact"
    if verdict.startswith("not predictable"):
        return "not predictable"
    return "other"


def verdict_order(verdict: str) -> int:
    """Sort key: flagged first, then explained, artefacts, not predictable, others."""
    return list(VERDICT_KINDS).index(verdict_kind(verdict))


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


#: Feature names of ``features.groups``, in words (the glossary); patterns in angle brackets.
FEATURE_WORDS: dict[str, str] = {
    "ap_<p>": "a_p = p + 1 − #E(F_p) at a good prime p; at a bad prime Cremona's aplist puts "
              "the Atkin–Lehner sign w_p there",
    "ap_norm_<p>": "a_p / (2√p) in [−1, 1] (Hasse's bound), 0 at bad p",
    "mn_s0_<B>": "Mestre–Nagao sum (1/log B) Σ_{p ≤ B} a_p log p / p (tends to −r + 1/2)",
    "mn_s1_<B>": "Σ_{p ≤ B} (1 − (p − 1)/N_p) log p, N_p = #E(F_p) (grows like r log B)",
    "mn_s2_<B>": "(1/B) Σ_{p ≤ B} a_p log p (tends to −r)",
    "mn_s3_<B>": "Σ_{p ≤ B} (1 − N_p/p)",
    "mn_s4_<B>": "(1/log log B) Σ_{p ≤ B} log(N_p/p) (BSD's heuristic ∏ N_p/p ~ C (log B)^r)",
    "slog_<x>": "sign(x)·ln(1 + |x|) of an integer invariant x (c4, c6, the minimal "
                "discriminant): a log scale that keeps the sign",
    "log_<x>": "natural logarithm of the BSD quantity or invariant x",
    "a1 … a6": "the coefficients of the reduced minimal Weierstrass model",
    "log_naive_height": "ln max(4|A|³, 27B²) of the short model y² = x³ + Ax + B",
    "log_j_height": "ln of the height of the j-invariant, max(|num|, |den|)",
    "bad_primes, additive_primes": "the number of primes dividing N, and of those whose square "
                                   "divides N",
    "semistable": "1 when N is squarefree",
    "log_largest_prime": "ln of the largest prime factor of N",
    "root_number": "the global root number w(E) = ±1",
    "l_series_0, l_series_1": "truncated sums 2 Σ (a_n/n) e^{−2πn/√N} and 2 Σ (a_n/n) "
                              "E₁(2πn/√N): L(E,1) when w = +1 and L'(E,1) when w = −1",
    "torsion_bound": "gcd of #E(F_p) over good primes p ≥ 3, a multiple of the torsion order",
    "topo_<cloud>_h<k>_<i>": "Betti curve of dimension k of the conductor window's "
                             "(cloud = ap or weierstrass) point cloud, at the i-th filtration "
                             "value",
    "degree, degree_v2": "the modular degree of the Γ₀(N)-optimal curve (PARI's ellmoddegree, "
                         "up to invariants.degree_conductor_max) and its 2-adic valuation",
    "optimality": "1 for the class's Γ₀(N)-optimal curve, else 0",
    "class_size, class_deg": "the number of curves in the isogeny class, and the largest "
                             "degree of its isogeny matrix",
    "szpiro_ratio": "ln|Δ_min| / ln N",
    "z<k>": "the height of the k-th zero of L(E, s) above the centre (PARI's lfunzeros)",
    "two_selmer_rank": "the F₂-rank s₂ of the 2-Selmer group (PARI's ellrank): "
                       "s₂ = r + dim E(Q)[2] + dim Ш[2] ≥ r + dim E(Q)[2]",
}
