"""Shared test fixtures: a PARI session, the shared format samples, the embedded tables."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from arithmetic.elldata import CREMONA_LABEL, read_curves
from arithmetic.pari import start_pari

PROJECT = Path(__file__).resolve().parents[1]
#: Samples of Cremona's and the LMFDB's formats, beside the project (never copied into it).
SHARED_FIXTURES = PROJECT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def pari():
    return start_pari(realprecision=38, stack_mb=512)


@pytest.fixture(scope="session")
def cremona_fixtures() -> Path:
    path = SHARED_FIXTURES / "cremona"
    assert path.is_dir(), f"shared fixtures not found at {path}: clone the project beside shared/"
    return path




def classes_of(*labels: str) -> pl.DataFrame:
    """All curves of the isogeny classes of the named curves."""
    matches = [CREMONA_LABEL.fullmatch(label) for label in labels]
    conductors = {int(m["conductor"]) for m in matches}
    classes = {m["conductor"] + m["iso"] for m in matches}
    frames = [read_curves(n, n + 1) for n in sorted(conductors)]
    return pl.concat(frames).filter(pl.col("isogeny_class").is_in(classes))


@pytest.fixture(scope="session")
def model_tables(tmp_path_factory, pari) -> dict[str, pl.DataFrame]:
    """curves, bsd, features and the model frame for every curve with conductor < 1000,
    computed by the stages' own functions (in this process)."""
    from arithmetic.bsd import bsd_table
    from models.features import model_frame
    from pipeline.features import compute_features
    from pipeline.params import load_params

    curves = read_curves(1, 1000)
    bsd = bsd_table(pari, curves, 1e-6)
    section = load_params(PROJECT / "params.yaml").features.model_copy(update={"workers": 1})
    features = compute_features(curves, bsd, section, tmp_path_factory.mktemp("features") / "c")
    return {"curves": curves, "bsd": bsd, "features": features,
            "frame": model_frame(features, bsd), "section": section}
