"""The mathematics of a curve or a table of curves: plain functions on polars frames and PARI."""
