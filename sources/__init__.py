"""The readers of every source of curves, offline and online: parsed, never evaluated."""
