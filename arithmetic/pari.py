"""The PARI/GP session (cypari2) used by the arithmetic code."""
from __future__ import annotations

import cypari2
from cypari2.pari_instance import prec_dec_to_bits


def start_pari(realprecision: int, stack_mb: int) -> cypari2.Pari:
    """A PARI handle with ``realprecision`` decimal digits and a stack that may grow to
    ``stack_mb`` MiB (PARI doubles its stack on demand up to that ceiling).

    cypari2 keeps one PARI library state per process: the first call fixes the stack ceiling.
    """
    pari = cypari2.Pari(size=min(32, stack_mb) * 2**20, sizemax=stack_mb * 2**20)
    pari.set_real_precision(realprecision)
    return pari


#: This process's PARI handle for the stages' jobs, set by :func:`start_process_pari`.
_process_pari: list[cypari2.Pari] = []


def start_process_pari(realprecision: int, stack_mb: int) -> None:
    """Start this process's PARI handle (:func:`start_pari`): the initializer of the worker
    processes of the stages' PARI jobs (:mod:`machinery.runner`); :func:`process_pari` returns
    it."""
    _process_pari[:] = [start_pari(realprecision, stack_mb)]


def process_pari() -> cypari2.Pari:
    """This process's PARI handle, started by :func:`start_process_pari`."""
    if not _process_pari:
        raise RuntimeError("no PARI handle in this process: start_process_pari was not run "
                           "(the initializer of the stage's jobs)")
    return _process_pari[0]


def precision_bits(realprecision: int) -> int:
    """The bits of ``realprecision`` decimal digits, for the ``precision`` argument of cypari2's
    functions. Every computation that depends on the precision must pass it: cypari2 computes
    at 64 bits otherwise, whatever ``set_real_precision`` says (that sets only the precision of
    parsing and printing; cypari2 2.2, ``Pari.set_real_precision``)."""
    return prec_dec_to_bits(realprecision)
