"""Local runner: series discovery, the step chain, status records, progress (issue 10)."""
