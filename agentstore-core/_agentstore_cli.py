"""The ``agentstore`` console script: Ctrl-C at any moment ends it with one line, exit 130.

A top-level module, because importing any ``agentstore.*`` module first runs the
``agentstore`` package's ``__init__`` (about half a second of imports), and a Ctrl-C during
those imports would print a traceback before :func:`agentstore.cli.main` could catch it.
It imports nothing the interpreter has not loaded already, so the cold start is unchanged
and its own import is as short as it can be. What it cannot cover is what runs before its
code: the interpreter's start-up and the wrapper finding this module (a few milliseconds).
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from types import FrameType
    from typing import NoReturn
else:
    try:  # the builtin behind signal.py, loaded at start-up: signal.py would import enum
        import _signal as signal
    except ImportError:  # pragma: no cover - an interpreter without it
        import signal

EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a process Ctrl-C ended (``CliInterrupted``'s code)."""


def _say_interrupted() -> None:
    try:
        sys.stderr.write("Error: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone: the exit code still says it
        pass


def _before_main(signum: int, frame: "FrameType | None") -> None:
    # Ctrl-C before the command starts (the wrapper's last lines, the CLI's imports):
    # nothing is open yet, so it ends here, and no KeyboardInterrupt is raised for an
    # import to turn into another error (Python 3.11 wraps one raised in a class body's
    # __set_name__ in a RuntimeError).
    _say_interrupted()
    os._exit(EXIT_INTERRUPTED)


# Only Python's own handler is replaced: a SIGINT the process started ignoring (nohup, a
# background job) stays ignored.
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _before_main)


def main() -> "NoReturn":
    """Run the CLI (:func:`agentstore.cli.main`); a Ctrl-C anywhere, imports included,
    ends it with ``Error: interrupted`` on stderr and exit 130, no traceback. A Ctrl-C
    after the command has its outcome leaves that outcome (output and exit code) as it is."""
    try:
        try:
            from agentstore.cli.app import main as run

            if signal.getsignal(signal.SIGINT) is _before_main:
                # From here a Ctrl-C unwinds as KeyboardInterrupt, so every clean-up runs.
                signal.signal(signal.SIGINT, signal.default_int_handler)
            run()
        finally:
            # The outcome is decided and reported: a Ctrl-C from here on must not turn it
            # into a death by signal (the interpreter's shutdown restores the default
            # action of a handler Python set, but keeps an ignored signal ignored).
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        interrupted()
    except Exception as error:
        # The CLI's own test (agentstore.cli.errors.caused_by_interrupt), loaded with the
        # CLI: an error raised before it loaded came from no Ctrl-C (one during the imports
        # ends in _before_main, raising nothing). Looked up, not imported here, so that
        # importing the CLI never imports this module, whose import sets a SIGINT handler.
        errors = sys.modules.get("agentstore.cli.errors")
        if errors is None or not errors.caused_by_interrupt(error):
            raise
        interrupted()


def interrupted() -> "NoReturn":
    """Say so in one line on stderr and exit 130; a second Ctrl-C meanwhile is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _say_interrupted()
    raise SystemExit(EXIT_INTERRUPTED)
