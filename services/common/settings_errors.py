"""A bad `CPPFORGE_*` setting as one line that names the variable and the fix, not a pydantic report.

pydantic's ValidationError names the field (`verifier_port`) over several lines and ends in a link;
what the user set, and must fix, is the environment variable (`CPPFORGE_VERIFIER_PORT`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)
_MAX_INPUT = 60


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    return f"{prefix}{field}".upper()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT else text[: _MAX_INPUT - 3] + "..."


def describe(settings_cls: type[BaseSettings], exc: ValidationError) -> str:
    """One line for every error of `exc`: `CPPFORGE_X='abc': <what is wrong>; <the fix>`."""
    parts: list[str] = []
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ").replace("\n", " ")
        field = str(err["loc"][0]) if err["loc"] else None
        if field is None or field not in settings_cls.model_fields:
            parts.append(message)
            continue
        env = env_name(settings_cls, field)
        default = settings_cls.model_fields[field].get_default(call_default_factory=False)
        fix = f"fix {env}" + (f" or unset it for the default {default}" if default not in (None, "") else "")
        if env in message:  # our own validators already name the variable and what is expected
            parts.append(f"{message}; {fix}")
        else:
            parts.append(f"{env}={_shown(err.get('input'))}: {message[:1].lower()}{message[1:]}; {fix}")
    return "; ".join(parts) or str(exc).splitlines()[0]


def load_settings(settings_cls: type[S]) -> S:
    """`settings_cls()` from the environment; ValueError with one line naming the variable(s) when invalid."""
    try:
        return settings_cls()
    except ValidationError as exc:
        raise ValueError(describe(settings_cls, exc)) from None
