"""The `nelm-sim` program: its console script and `python -m simulator`."""

# The interpreter's own signal module, loaded before any Python code runs: `import signal` (its Python
# wrapper) took half a millisecond in which a Ctrl-C was a traceback (tests/test_fuzz_commands.py).
import _signal
import os

INTERRUPTED_EXIT_STATUS = 130  # 128 + SIGINT, as shells report a program stopped by Ctrl-C


def _stopped_while_starting(signum, frame) -> None:  # noqa: ARG001 - the signal handler signature
    # Nothing has been read or written yet: stop at once, with the line the program gives.
    os.write(2, b"nelm-sim: interrupted; no output folder was written\n")
    os._exit(INTERRUPTED_EXIT_STATUS)


def program() -> None:
    """Import the command line and run it; a SIGINT or SIGTERM while the imports run ends the program
    with one line (Python would print a KeyboardInterrupt traceback, or die by SIGTERM)."""
    held = [number for number in (_signal.SIGINT, _signal.SIGTERM) if _signal.getsignal(number) != _signal.SIG_IGN]
    previous = {number: _signal.signal(number, _stopped_while_starting) for number in held}
    from .cli import script

    for number, handler in previous.items():
        _signal.signal(number, handler)
    script()


if __name__ == "__main__":
    program()
