"""``python -m agentstore``: the same as the ``agentstore`` console script."""

from agentstore.cli.app import main

if __name__ == "__main__":
    main()
