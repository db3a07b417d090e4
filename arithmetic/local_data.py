"""Local data of E/Q at its bad primes from Tate's algorithm, with PARI (``elllocalred``).

At a prime p of bad reduction Tate's algorithm (Silverman, *Advanced Topics in the Arithmetic of
Elliptic Curves*, IV.9; Cremona, *Algorithms for Modular Elliptic Curves*, 2nd ed., §3.2) gives
the exponent f_p of the conductor, the Kodaira symbol of the special fibre of the minimal
regular model and the Tamagawa number c_p = [E(Q_p) : E_0(Q_p)]. Kodaira symbols and c_p vary
within an isogeny class; the reduction type (split or non-split multiplicative, additive) does
not. PARI codes the symbol as an integer (PARI 2.15 manual, ``elllocalred``): 1 is I0, 2, 3, 4
are II, III, IV, 4 + ν is I_ν (ν >= 1), and −1, −2, −3, −4, −4 − ν are I0*, II*, III*, IV*,
I_ν* (ν >= 1).

The features summarize a curve's symbols as counts of each family, numbers a number theorist
reads off Tate's algorithm exactly: they are *known quantities*, never a discovery.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:    # importing cypari2 needs the main thread; the names here must not
    import cypari2

#: The families of Kodaira symbols, in the order of their feature columns.
KODAIRA_FAMILIES = ("I_n", "II", "III", "IV", "I0*", "I_n*", "IV*", "III*", "II*")


def kodaira_column(family: str) -> str:
    """Feature column counting the bad primes of one Kodaira family (``kodaira_I_n_star``...)."""
    return "kodaira_" + family.replace("*", "_star")


#: Per curve: bad primes of each Kodaira family.
LOCAL_DATA_SCHEMA = {kodaira_column(family): pl.Int16 for family in KODAIRA_FAMILIES}


def kodaira_family(code: int) -> str:
    """The Kodaira family of PARI's symbol code at a bad prime (code 1, I0, is good reduction)."""
    if code == 1:
        raise ValueError("Kodaira code 1 is I0, good reduction")
    if code > 4:
        return "I_n"
    if code < -4:
        return "I_n*"
    return {2: "II", 3: "III", 4: "IV", -1: "I0*", -2: "II*", -3: "III*", -4: "IV*"}[code]


def kodaira_symbol(code: int) -> str:
    """The Kodaira symbol of PARI's code, as written in Cremona's tables (I5, I0*, I2*, II*)."""
    if code > 4:
        return f"I{code - 4}"
    if code < -4:
        return f"I{-code - 4}*"
    return "I0" if code == 1 else kodaira_family(code)


def local_reduction(pari: cypari2.Pari, curve, bad_primes: list[int]) -> list[dict]:
    """Per bad prime p: f_p, the Kodaira code and symbol, and c_p (Tate's algorithm)."""
    found = []
    for p in bad_primes:
        exponent, code, _, tamagawa = pari.elllocalred(curve, p)
        found.append({"prime": p, "conductor_exponent": int(exponent), "kodaira_code": int(code),
                      "kodaira": kodaira_symbol(int(code)), "tamagawa_number": int(tamagawa)})
    return found


def kodaira_counts(local: list[dict]) -> dict[str, int]:
    """The number of bad primes of each Kodaira family (:data:`LOCAL_DATA_SCHEMA`)."""
    counts = {column: 0 for column in LOCAL_DATA_SCHEMA}
    for entry in local:
        counts[kodaira_column(kodaira_family(entry["kodaira_code"]))] += 1
    return counts
