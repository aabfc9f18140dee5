"""The CLI's exit codes and its one-line error, shared by every `cppforge` subcommand module."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INFRA = 1  # the infrastructure failed (no sandbox, no compiler, a service down)
EXIT_BAD_INPUT = 2  # bad input: missing file, refused flag, bad arguments or config


class CliError(Exception):
    """Printed as `cppforge: error: <message>` and exits with `code` (no traceback)."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code
