"""One way for every entry script to end on a user's mistake: a single `error:` line and exit code 2.

A mistake the user can fix (a wrong flag, key, name or path) is an exception deriving from `UserError`; its message
names the flag or key to change. `run_main` turns it into one line on stderr; `--debug` (any value but 0) on the
command line shows the traceback instead. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence


class UserError(Exception):
    """A mistake in the command, config or files that the user can fix; the message says how."""

    def __str__(self) -> str:  # KeyError subclasses would otherwise print their message quoted
        return str(self.args[0]) if self.args else self.__class__.__name__


def wants_traceback(argv: Sequence[str]) -> bool:
    """True when the command line asks for `--debug` (a bare flag or a non-zero value)."""
    for i, arg in enumerate(argv):
        if arg == "--debug":
            value = argv[i + 1] if i + 1 < len(argv) else ""
            return not value.lstrip("-").isdigit() or int(value) != 0
        if arg.startswith("--debug="):
            return arg.split("=", 1)[1] not in ("0", "")
    return False


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Call `main(argv)`; a `UserError` becomes `error: <message>` on stderr and exit code 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        return main(argv)
    except UserError as e:
        if wants_traceback(args):
            raise
        _error_line(str(e))
        return 2
    except KeyboardInterrupt:
        _error_line("interrupted")
        return 130


def _error_line(message: str) -> None:
    # One write with its newline: processes sharing an unbuffered stderr (torchrun's workers) cannot split it.
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
