"""How a stage runs: the params schema, the resumable runner, atomic outputs, input checks."""
