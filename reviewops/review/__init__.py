"""The review engine: diff parsing, analyzers, ranking. Pure code, no GitHub I/O (see reviewops.github)."""
