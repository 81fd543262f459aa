"""The `reviewops` command line."""
