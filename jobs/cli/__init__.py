"""`batchlab`: the command-line client of the HTTP API; `jobs.cli.app` lists its subcommands."""

from jobs.cli.app import main

__all__ = ["main"]
