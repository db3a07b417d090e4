"""The columns of the curve, BSD and invariants tables, apart from the code that fills them, so
that params validation and the dashboard know them without loading PARI (cysignals installs
signal handlers on import, which only the main thread may do: Streamlit runs pages in others)
or a source's reader: every source writes the same curve table.
"""
from __future__ import annotations

import polars as pl

#: The embedded Cremona tables (passagemath-pari-elldata) cover the conductors below this.
ELLDATA_CONDUCTOR_BOUND = 500_000

#: Schema of ``data/curves.parquet``, which every source writes. a-invariants reach 85 bits
#: below conductor 500,000, so they are exact decimals (38 digits), readable by polars, pyarrow
#: and pandas alike.
CURVE_SCHEMA = {
    "label": pl.String,
    "isogeny_class": pl.String,
    "number": pl.Int16,
    "conductor": pl.Int64,
    "ainvs": pl.List(pl.Decimal(38, 0)),
    "gens": pl.List(pl.List(pl.String)),
}

#: Columns of the curve table that the BSD table repeats, then the columns it adds.
KEY_COLUMNS = ["label", "isogeny_class", "number", "conductor", "ainvs"]
BSD_SCHEMA = {
    "rank": pl.Int8,
    "torsion": pl.Int16,
    "torsion_structure": pl.List(pl.Int16),
    "tamagawa_product": pl.Int64,
    "real_components": pl.Int8,
    "real_period": pl.Float64,
    "regulator": pl.Float64,
    "special_value": pl.Float64,
    "sha_an": pl.Float64,
    "sha": pl.Int64,
    "root_number": pl.Int8,
    "discriminant": pl.String,   # minimal discriminant, exact (it outgrows 64 and 128 bits)
    "jinv": pl.String,           # j-invariant, exact rational "p/q" or integer
    "cm": pl.Int16,              # discriminant of the CM order, 0 if no CM (as in the LMFDB)
    "semistable": pl.Boolean,
}

#: Columns of the invariants table. ``degree``, the zeros and ``two_selmer_rank`` are null
#: where their param bounds leave them out (and ``degree`` for every curve that is not optimal).
INVARIANTS_SCHEMA = {
    "label": pl.String,
    "degree": pl.Int64,                      # modular degree (optimal curves), LMFDB ``degree``
    "degree_v2": pl.Int8,                    # its 2-adic valuation
    "optimality": pl.Int8,                   # 1: the class's Γ₀(N)-optimal curve, 0: not
    "class_size": pl.Int8,
    "class_deg": pl.Int32,                   # the largest degree of the class's isogeny matrix
    "isogeny_degrees": pl.List(pl.Int32),    # the distinct degrees from this curve, 1 included
    "isogeny_matrix": pl.List(pl.List(pl.Int32)),  # the class's matrix, rows in Cremona order
    "szpiro_ratio": pl.Float64,
    "two_selmer_rank": pl.Int8,
}

#: The zero heights' columns z1, z2, ... (their number is ``invariants.zeros``), a pattern.
ZERO_COLUMNS = r"z\d+"
#: The invariants table's columns that are numbers, one per curve: the features of the group
#: ``invariants`` (with the zero heights), which declared targets may also read.
INVARIANT_NUMBERS = [c for c, t in INVARIANTS_SCHEMA.items() if c != "label" and t.is_numeric()]
