"""The stack's one error."""

from __future__ import annotations


class StackError(Exception):
    """A service (or Redis) failed to start: the message names it and ends with the tail of its log."""
