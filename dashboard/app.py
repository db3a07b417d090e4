"""The dashboard: ``make dashboard`` (``streamlit run dashboard/app.py`` from the project root).

Reads only pipeline outputs (see dashboard/data.py); each page says which `dvc repro` target
builds what it is missing.
"""
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:          # the project's packages (pipeline, reporting, dashboard)
    sys.path.insert(0, str(ROOT))

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="ecmine", layout="wide")
st.navigation([
    st.Page(PAGES / "overview.py", title="Overview", default=True),
    st.Page(PAGES / "findings.py", title="Findings"),
    st.Page(PAGES / "curves.py", title="Curve browser"),
    st.Page(PAGES / "distributions.py", title="Distributions"),
    st.Page(PAGES / "topology.py", title="Topology and null models"),
    st.Page(PAGES / "bias.py", title="Conductor bias"),
    st.Page(PAGES / "known.py", title="Known phenomena"),
]).run()
