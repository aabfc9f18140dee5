"""Who may change adapters on an open service (no keys at all), and the start-up warning when it is exposed.

Open mode is meant for local use: every caller gets the open tier, and adapter changes (an
operator's action) are taken only from loopback clients (127.0.0.0/8, ::1). With `--host 0.0.0.0`
any network caller could otherwise swap the served weights; they get 403 `admin_key_required`.
The client address is uvicorn's view (it trusts X-Forwarded-For only from 127.0.0.1 by default).
"""

from __future__ import annotations

import ipaddress
import logging

from .errors import AdminKeyRequiredError
from .tiers import Gatekeeper, parse_admin_keys, parse_api_keys


def is_loopback(host: str | None) -> bool:
    """A loopback address (or the name localhost); None or anything else: not loopback."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_admin(gate: Gatekeeper, key: str, client_host: str | None) -> None:
    """AdminKeyRequiredError unless this caller may load, activate or unload adapters."""
    if gate.open and not is_loopback(client_host):
        raise AdminKeyRequiredError(
            "this service runs open (no keys): adapters change only from a loopback address (127.0.0.0/8, ::1), "
            f"not from {client_host}; set CPPFORGE_ADMIN_KEYS (and CPPFORGE_API_KEYS) to change them remotely "
            "with an admin key"
        )
    gate.require_admin(key)


def warn_if_exposed(log: logging.Logger, host: str, api_keys: str | None, admin_keys: str | None) -> None:
    """The start-up warning for an open service bound to a non-loopback address."""
    if parse_api_keys(api_keys) or parse_admin_keys(admin_keys) or is_loopback(host):
        return
    log.warning(
        "the inference service is open (no CPPFORGE_API_KEYS or CPPFORGE_ADMIN_KEYS) on %s: every network caller "
        "may generate with the open tier; adapter changes are refused except from loopback",
        host,
    )
