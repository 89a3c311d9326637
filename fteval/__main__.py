"""``python -m fteval`` runs the CLI."""

from fteval.cli import main

main()
