"""The data files an installed wheel ships, found through its own file list (its RECORD, read
by :mod:`importlib.metadata`), so that a reader opens the files of the pinned package, each with
the sha256 the RECORD holds for it."""
from __future__ import annotations

import re
from importlib import metadata


def wheel_files(distribution: str, folder: str, pattern: str, error: type[Exception],
                missing: str) -> list[metadata.PackagePath]:
    """The files of the installed ``distribution`` in a folder named ``folder`` whose names
    fully match ``pattern``; ``error`` when the package is not installed, or (with the words
    ``missing``) when it lists no such file."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise error(f"the package {distribution} is not installed (run `make install`)") from None
    found = [entry for entry in dist.files or ()
             if entry.parent.name == folder and re.fullmatch(pattern, entry.name)]
    if not found:
        raise error(f"{distribution} is installed but {missing}")
    return found
