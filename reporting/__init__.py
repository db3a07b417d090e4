"""Turning the findings into words, figures and documents (the report stage and the dashboard)."""
