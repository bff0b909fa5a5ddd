"""Local runner: the step chain over the series, progress (issue 10). Series discovery
(`emflow.series`) and step status records (`emflow.records`) lie below it, shared with the
manifest and the CLI."""
