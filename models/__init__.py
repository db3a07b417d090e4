"""Model families, heuristic baselines and null models (issues 4, 5 and 7)."""
