"""``python -m agentstore.cli``: the same as the ``agentstore`` console script."""

from agentstore.cli.app import main

main()
