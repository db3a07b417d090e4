"""A dask.distributed client for a stage: on the scheduler at ``address``, or on a LocalCluster
started here (127.0.0.1, ``workers`` processes of ``threads`` threads) and closed afterwards."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def dask_client(address: str | None, workers: int, threads: int) -> Iterator[object]:
    from dask.distributed import Client, LocalCluster

    cluster = None if address else LocalCluster(
        n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
        dashboard_address=":0")
    try:
        with Client(address or cluster) as client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()
