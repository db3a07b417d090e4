"""The primes up to a bound, by the sieve of Eratosthenes."""
from __future__ import annotations

import math

import numpy as np


def primes_up_to(bound: int) -> list[int]:
    """The primes p <= bound (sieve of Eratosthenes)."""
    if bound < 2:
        return []
    sieve = np.ones(bound + 1, dtype=bool)
    sieve[:2] = False
    for n in range(2, math.isqrt(bound) + 1):
        if sieve[n]:
            sieve[n * n::n] = False
    return [int(p) for p in np.flatnonzero(sieve)]
