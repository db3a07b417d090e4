"""The DVC stages, one thin module each, and what only stages share."""
