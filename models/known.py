"""The known phenomena the findings engine must *label*, not flag, and the comparison of the
rank-from-a_p model with its baselines: small functions on the findings table (no PARI here:
the dashboard imports them)."""
from __future__ import annotations

import json

import polars as pl


#: Known phenomena the findings engine must label, not flag: (what, target, search group, the
#: verdicts that say the known reason). ``held_out_ap`` stands for ``ap_<held-out prime>``.
KNOWN_PHENOMENA = [
    ("rank parity is fixed by the root number (parity conjecture)", "rank_parity", "parity",
     ("explained by parity",)),
    ("Sha follows from the other BSD quantities (the BSD formula)", "log_sha_an", "bsd",
     ("explained by BSD identity",)),
    ("torsion is forced by the a_p: T injects into E(F_p) at good p > 2", "torsion", "ap",
     ("explained by torsion congruences",)),
    ("the Tamagawa product follows from the discriminant and conductor (Ogg's formula)",
     "log_tamagawa_product", "weierstrass", ("explained by Ogg's formula",
                                             "explained by BSD heuristics")),
    ("a_p at a held-out prime: only its murmuration with rank / root number and Sato–Tate",
     "held_out_ap", "ap", ("explained by murmurations", "explained by Sato-Tate",
                           "not predictable")),
]


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


def baseline_shares(findings: pl.DataFrame, target: str = "rank", group: str = "ap") -> pl.DataFrame:
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
