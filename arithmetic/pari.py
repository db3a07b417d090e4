"""The PARI/GP session (cypari2) used by the arithmetic code."""
from __future__ import annotations

import cypari2


def start_pari(realprecision: int, stack_mb: int) -> cypari2.Pari:
    """A PARI handle with ``realprecision`` decimal digits and a stack that may grow to
    ``stack_mb`` MiB (PARI doubles its stack on demand up to that ceiling).

    cypari2 keeps one PARI library state per process: the first call fixes the stack ceiling.
    """
    pari = cypari2.Pari(size=min(32, stack_mb) * 2**20, sizemax=stack_mb * 2**20)
    pari.set_real_precision(realprecision)
    return pari
