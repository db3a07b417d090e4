"""The model frame the findings engine searches: the features (the invariants stage's numbers
among them) and the BSD table of the Cremona curves, row for row, restricted to
``search.sample_classes`` isogeny classes when it is set.

The train and bias stages both read it here, so the bias checks refit on exactly the curves the
search scored. Parquet is scanned lazily and filtered before it is read: on the full range
(3,064,705 curves) a sample of classes never materializes the whole feature table.
"""
from __future__ import annotations

import polars as pl

from machinery.params import Params
from models.features import model_frame
from models.splits import sample_classes


def search_frame(params: Params) -> pl.DataFrame:
    """Features beside the BSD columns, for every curve of the sampled isogeny classes."""
    features = pl.scan_parquet(params.paths.features)
    bsd = pl.scan_parquet(params.paths.bsd)
    size = params.search.sample_classes
    if size is not None:
        classes = sample_classes(bsd.select("isogeny_class").collect().to_series(), size,
                                 params.search.seed)
        features = features.filter(pl.col("isogeny_class").is_in(classes.implode()))
        bsd = bsd.filter(pl.col("isogeny_class").is_in(classes.implode()))
    return model_frame(features.collect(), bsd.collect())


def frame_columns(params: Params) -> list[str]:
    """The columns of :func:`search_frame`, from the tables' schemas (no row is read)."""
    return model_frame(pl.read_parquet(params.paths.features, n_rows=0),
                       pl.read_parquet(params.paths.bsd, n_rows=0)).columns
