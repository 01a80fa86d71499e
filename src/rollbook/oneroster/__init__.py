"""OneRoster 1.2: the rostering provider and CSV formats (issue 9; being built)."""
