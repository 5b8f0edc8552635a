"""Side-by-side benchmarks: agentstore against the raw driver floor and peer libraries.

Run ``uv run --group bench python -m benchmarks`` (``--quick`` for a short run, ``--json``
for machines). See ``docs/benchmarks.md``.
"""
