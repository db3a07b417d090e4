"""Where a report comes from: code revision, parameters, data and package versions, date."""
from __future__ import annotations

import datetime
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

#: Packages whose versions shape the results.
PACKAGES = ("cypari2", "passagemath-pari-elldata", "polars", "numpy", "lightgbm",
            "scikit-learn", "scipy", "statsmodels", "giotto-tda", "dvc", "streamlit")


def file_md5(path: Path) -> str:
    """The md5 of a file's bytes: the hash DVC records for a file output in dvc.lock."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Beside the commit when the run's tracked files differ from it.
UNCOMMITTED = "+changes"
#: What that mark means, printed beside the revision.
UNCOMMITTED_WORDS = ("+changes: tracked files (code or params.yaml) differed from this commit "
                     "when the report was built, so the commit alone does not reproduce it")


def revision_words(revision: str) -> str:
    """The revision, with the meaning of :data:`UNCOMMITTED` when it carries the mark."""
    return f"{revision} ({UNCOMMITTED_WORDS})" if revision.endswith(UNCOMMITTED) else revision


def git_revision(directory: Path = Path(".")) -> str:
    """HEAD's commit, with ``+changes`` when tracked files differ from it; 'unknown' outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=directory, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (f" {UNCOMMITTED}" if dirty else "")


def _pari_version() -> str:
    import cypari2
    return ".".join(str(v) for v in cypari2.Pari().version()[:3])


def provenance(params_file: Path, data: dict[str, Path]) -> dict:
    """The provenance block: revision, params hash, md5 of each data file, versions, date."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["PARI"] = _pari_version()
    return {
        "git_revision": git_revision(),
        "params_sha256": hashlib.sha256(Path(params_file).read_bytes()).hexdigest(),
        "data_md5": {name: file_md5(path) for name, path in data.items() if Path(path).is_file()},
        "packages": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
