"""The known phenomena the findings engine must *label*, not flag, the known conjectures checked
directly on the computed invariants, and the comparison of the rank-from-a_p model with its
baselines: small functions on the findings table and the stages' metrics (no PARI here: the
dashboard imports them)."""
from __future__ import annotations

import json

import polars as pl

from models.verdicts import EXPLAINED_BY_KNOWN, NOT_PREDICTABLE, explained_by


#: Known phenomena the findings engine must label, not flag: (what, target, search group, the
#: verdicts that say the known reason). ``held_out_ap`` stands for ``ap_<held-out prime>``.
KNOWN_PHENOMENA = [
    ("rank parity is fixed by the root number (parity conjecture)", "rank_parity", "parity",
     (explained_by("parity conjecture"),)),
    ("Sha follows from the other BSD quantities (the BSD formula)", "log_sha_an", "bsd",
     (explained_by("BSD formula"), EXPLAINED_BY_KNOWN)),
    ("torsion is forced by the a_p: T injects into E(F_p) at good p > 2", "torsion", "ap",
     (explained_by("torsion congruences"), EXPLAINED_BY_KNOWN)),
    ("the Tamagawa product is computed from the equation by Tate's algorithm",
     "log_tamagawa_product", "weierstrass", (explained_by("Tate's algorithm"),
                                             EXPLAINED_BY_KNOWN)),
    ("the root number is computed exactly from the equation", "root_number", "arithmetic",
     (explained_by("root number"), explained_by("local root numbers"),
      EXPLAINED_BY_KNOWN)),
    ("the regulator at rank 1 follows from L'(E,1) by the BSD formula with Sha = 1",
     "log_regulator", "arithmetic", (explained_by("BSD formula"), explained_by("L-series at s = 1"),
                                     EXPLAINED_BY_KNOWN)),
    ("the BSD ratio is ∏c_p/#T² times Sha, and Sha = 1 almost always",
     "log_bsd_ratio", "arithmetic", (explained_by("BSD formula"),
                                     EXPLAINED_BY_KNOWN)),
    ("a_p at a held-out prime: from the other a_p only what the torsion bound and the "
     "Mestre–Nagao sums give (murmurations and Sato–Tate read more than the a_p)",
     "held_out_ap", "ap", (EXPLAINED_BY_KNOWN, NOT_PREDICTABLE)),
]


#: Known conjectures and published phenomena checked directly on the computed tables, not
#: through the findings engine: (name, statement, reference, the metrics file (a params.paths
#: entry) whose section holds the check). :func:`known_checks` reads each from its metrics.
KNOWN_CHECKS = [
    ("Watkins' conjecture",
     "2^r divides the modular degree of the optimal curve, r its rank",
     "M. Watkins, Computing the modular degree of an elliptic curve, Experiment. Math. 11 "
     "(2002) 487–502, §5.3", "invariants_metrics"),
    ("Szpiro's conjecture",
     "for every ε > 0, |Δ_min| <= C(ε)·N^(6+ε): the Szpiro ratio log|Δ_min|/log N has "
     "limsup at most 6 (asymptotic: finitely many curves may exceed 6)",
     "L. Szpiro, Discriminant et conducteur des courbes elliptiques, Astérisque 183 (1990) "
     "7–18", "invariants_metrics"),
    ("Murmurations split by Tamagawa product, Sha and real period",
     "within a rank, the mean a_p over small p differs between the curves split by ∏c_p, "
     "Sha or Ω: a mean shift at p < 200 with p < 0.001 against null models",
     "Wachs 2026, arXiv 2603.04604", "murmurations_metrics"),
]

_CHECK_SCHEMA = {"phenomenon": pl.String, "statement": pl.String, "reference": pl.String,
                 "result": pl.String, "as_expected": pl.Boolean}


def _watkins(metrics: dict) -> tuple[str, bool | None]:
    check = metrics.get("watkins")
    if not check or not check["curves"]:
        return "no modular degree computed", None
    ranks = ", ".join(f"rank {r['rank']}: {r['holds']:,}/{r['curves']:,} (least v2 "
                      f"{r['min_v2']})" for r in check["by_rank"])
    bound = metrics.get("bounds", {}).get("degree_conductor_max")
    result = (f"holds for {check['holds']:,} of {check['curves']:,} optimal curves"
              + (f" with N <= {bound:,}" if bound is not None else "") + f" ({ranks})")
    if check["violations"]:
        result += f"; violated by {', '.join(check['violating_curves'])}"
    return result, check["violations"] == 0


def _szpiro(metrics: dict) -> tuple[str, bool | None]:
    check = metrics.get("szpiro")
    if not check:
        return "not computed", None
    decades = "; ".join(f"N in [{d['conductor_low']:,}, {d['conductor_high']:,}): max "
                        f"{d['max']:.3f} ({d['label']})" for d in check["by_decade"])
    return (f"largest ratio {check['max']:.3f} ({check['max_curve']}), mean "
            f"{check['mean']:.3f}, {check['above_6']:,} curves above 6; {decades}"), None


def _wachs(metrics: dict) -> tuple[str, bool | None]:
    check = metrics.get("wachs_split")
    if not check:
        return "not computed", None
    lines = []
    for window, ranks in check["windows"].items():
        for rank, splits in ranks.items():
            for split, entry in splits.items():
                test = entry["all_primes"]
                if test["difference"] is None:
                    continue
                lines.append(f"{window} {rank} {split.replace('_', ' ')}: D = "
                             f"{test['difference']:+.3f}, p = {test['p_permutation']:.2g} "
                             f"(permutations), {test['p_sato_tate']:.2g} (Sato–Tate)")
    seen = ", ".join(check["seen_in"]) or "nowhere"
    return (f"shift at p < {check['primes_max']} seen (both p < {check['level']:g}) in: {seen}. "
            + "; ".join(lines)), check["seen"]


_CHECKS = {"Watkins' conjecture": _watkins, "Szpiro's conjecture": _szpiro,
           "Murmurations split by Tamagawa product, Sha and real period": _wachs}


def known_checks(metrics: dict[str, dict]) -> pl.DataFrame:
    """Each of :data:`KNOWN_CHECKS` with its result read from ``metrics`` (params.paths entry ->
    that file's parsed JSON; a missing file leaves its checks out): whether Watkins' divisibility
    held on every curve, the Szpiro ratios against the bound 6 (descriptive: the conjecture is
    asymptotic, so ``as_expected`` is null), whether the murmuration split's shift is seen."""
    rows = []
    for name, statement, reference, source in KNOWN_CHECKS:
        if source in metrics:
            result, expected = _CHECKS[name](metrics[source])
            rows.append({"phenomenon": name, "statement": statement, "reference": reference,
                         "result": result, "as_expected": expected})
    return pl.DataFrame(rows, schema=_CHECK_SCHEMA)


def known_labels(findings: pl.DataFrame, held_out_prime: int) -> pl.DataFrame:
    """Each known phenomenon's pair in the findings table, its verdict, and whether that is
    one of the known reasons (pairs not in the search are left out)."""
    rows = []
    for what, target, group, expected in KNOWN_PHENOMENA:
        target = f"ap_{held_out_prime}" if target == "held_out_ap" else target
        found = findings.filter((pl.col("target") == target) & (pl.col("group") == group))
        if len(found):
            verdict = found["verdict"][0]
            rows.append({"phenomenon": what, "pair": f"{target} ~ {group}", "verdict": verdict,
                         "expected": " or ".join(expected), "as_expected": verdict in expected})
    return pl.DataFrame(rows, schema={"phenomenon": pl.String, "pair": pl.String,
                                      "verdict": pl.String, "expected": pl.String,
                                      "as_expected": pl.Boolean})


def baseline_shares(findings: pl.DataFrame, target: str = "rank",
                    group: str = "ap") -> pl.DataFrame:
    """For one pair (default: rank from a_p): the model's score and each baseline's, with the
    share of the model's score each baseline reaches on the same folds (Kazalicki–Vlah 2023 made
    this comparison for their CNN against the Mestre–Nagao sums and the root number)."""
    found = findings.filter((pl.col("target") == target) & (pl.col("group") == group))
    if not len(found):
        return pl.DataFrame(schema={"predictor": pl.String, "score": pl.Float64,
                                    "share_of_model": pl.Float64})
    row = found.row(0, named=True)
    scores = {"model (LightGBM)": row["score"], **json.loads(row["baseline_scores"])}
    return pl.DataFrame({"predictor": list(scores), "score": list(scores.values())}).with_columns(
        share_of_model=pl.col("score") / row["score"]).sort("score", descending=True)
