"""`python -m reviewops` runs the CLI, so it works without the console script on PATH."""

from reviewops.cli.main import main

main()
