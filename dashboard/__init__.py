"""The Streamlit dashboard: it reads the outputs and never writes one."""
