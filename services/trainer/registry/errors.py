"""The registry's errors: one family, so callers (the CLI, the inference service) catch one base.

Bad input (a name, a method, a dir that is not a PEFT adapter) is also a ValueError; an unknown
name is also a LookupError; a refused promotion says why with the numbers it compared.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Anything the registry refuses or cannot do."""


class InvalidArtifactError(RegistryError, ValueError):
    """Bad input: a name outside the pattern, an unknown method, a dir that is not a safetensors PEFT adapter."""


class DuplicateArtifactError(RegistryError, ValueError):
    """The name is taken (names are never reused: a name always means the same weights)."""


class ArtifactNotFoundError(RegistryError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no adapter named {name!r} in the registry")
        self.name = name

    def __str__(self) -> str:  # LookupError would quote the message again
        return str(self.args[0])


class ArtifactCorruptError(RegistryError):
    """The artifact's files no longer match its manifest (tampered with, or damaged on disk)."""


class StatusError(RegistryError, ValueError):
    """A transition the statuses do not allow (draft -> active -> retired; retired is final)."""


class PromotionRefused(RegistryError):
    """`promote` declined: the message names the metric values, the gate and the eval they came from."""
