"""The engine: features, targets, laws, baselines, null models, pairs, statistics, verdicts."""
