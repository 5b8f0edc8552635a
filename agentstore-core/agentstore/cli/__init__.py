"""The ``agentstore`` command line (``agentstore --help``); built on click."""

from agentstore.cli import keys as keys  # registers keygen and rotate-key
from agentstore.cli import validate as validate  # registers validate
from agentstore.cli.app import cli, main

__all__ = ["cli", "main"]
