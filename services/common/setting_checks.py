"""Checks of `CPPFORGE_*` values that would otherwise fail late (at model load, at the first request).

Each raises ValueError naming the variable, so settings_errors.py turns it into one line and exit 2
before anything is built or loaded. The dtype table is shared with services/lm/model.py (the loader).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The loader's dtype names and aliases (lowercase) -> the torch dtype it loads in; "auto" besides.
DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def check_device(value: str) -> str:
    if not _DEVICE.fullmatch(value):
        raise ValueError(f"CPPFORGE_DEVICE={value!r}: expected auto, cpu, cuda, cuda:N or mps")
    return value


def check_dtype(value: str) -> str:
    if value != "auto" and value.lower() not in DTYPES:
        raise ValueError(f"CPPFORGE_DTYPE={value!r}: expected auto or one of {', '.join(DTYPES)}")
    return value


def check_http_url(value: str, env: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  (a port out of 0..65535 or not a number raises here)
    except ValueError:
        raise ValueError(f"{env}={value!r}: the port is not a number in 1..65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError(f"{env}={value!r}: expected an http:// or https:// URL with a host (no spaces)")
    return value


def check_tier(value: str, tiers: tuple[str, ...], env: str) -> str:
    if value not in tiers:
        raise ValueError(f"{env}={value!r}: expected one of {', '.join(tiers)}")
    return value
