"""`cppforge up`: the whole stack as local processes until Ctrl-C (or SIGTERM), then nothing left running.

Exit codes: 0 stopped by SIGTERM, 130 by Ctrl-C, 1 a service failed to start or died, 2 bad input (a
port in use, a bad option).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..common.cli_errors import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, CliError
from ..common.store import masked_url
from .errors import StackError

if TYPE_CHECKING:
    from .local import StackUrls

EXIT_INTERRUPTED = 130


class _Terminated(Exception):
    """SIGTERM, turned into an exception in the main thread (as SIGINT is a KeyboardInterrupt)."""


def add_up_parser(sub: Any) -> None:
    u = sub.add_parser("up", help="run Redis (if none answers), the verifier, inference and trainer locally")
    u.add_argument("--host", default="127.0.0.1", help="bind address of the three services (default 127.0.0.1)")
    u.add_argument("--verifier-port", type=int, default=8001)
    u.add_argument("--inference-port", type=int, default=8002)
    u.add_argument("--trainer-port", type=int, default=8003)
    u.add_argument("--redis-url", help="Redis to use (default CPPFORGE_REDIS_URL; started when local and silent)")
    u.add_argument("--home", help="CPPFORGE_HOME of the services (default: inherited)")
    u.add_argument("--model", help="CPPFORGE_MODEL: local HF model dir (default: the bootstrap model)")
    u.add_argument("--no-logs", action="store_true", help="do not stream the services' logs (they go to files)")
    u.add_argument(
        "--ready-timeout", type=float, default=900.0,
        help="seconds to wait for the services (default 900: a first run builds the bootstrap model)",
    )  # fmt: skip
    u.set_defaults(func=cmd_up)


def is_loopback(host: str) -> bool:
    """Whether a service bound to `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def _keys_line(host: str) -> str:
    """The banner's API keys line; open mode on a host others can reach is refused (exit 2)."""
    from ..common.auth import parse_api_keys

    spec = os.environ.get("CPPFORGE_API_KEYS")
    try:
        keys = parse_api_keys(spec)
    except ValueError as exc:
        raise CliError(f"bad CPPFORGE_API_KEYS: {exc}") from None
    if not keys:
        if not is_loopback(host):
            raise CliError(f"--host {host} with no API keys would open the services (the trainer runs jobs) to "
                           "the network: set CPPFORGE_API_KEYS, or bind 127.0.0.1", EXIT_BAD_INPUT)  # fmt: skip
        tier = os.environ.get("CPPFORGE_OPEN_TIER") or "dev"
        return f"none: open on {host}, every caller is tier {tier}"
    # Masked like every other secret we print: enough to tell the keys apart, not to use them.
    return ", ".join(f"{mask_key(key)} ({tier})" for key, tier in keys.items())


def mask_key(key: str) -> str:
    return f"{key[:4]}***" if len(key) > 8 else "***"


def rollout_key_env() -> tuple[dict[str, str], str | None]:
    """Keyed stacks: the trainer's runs need an admin key of the inference service for their rollouts and adapter
    pushes. ({CPPFORGE_INFERENCE_API_KEY: first admin key} when none is given, a warning when there is none)."""
    from ..inference.tiers import parse_admin_keys

    if not os.environ.get("CPPFORGE_API_KEYS") or os.environ.get("CPPFORGE_INFERENCE_API_KEY"):
        return {}, None
    admin = sorted(parse_admin_keys(os.environ.get("CPPFORGE_ADMIN_KEYS")))
    if not admin:
        return {}, ("CPPFORGE_API_KEYS is set but CPPFORGE_ADMIN_KEYS is not: the trainer's RL jobs cannot push "
                    "their adapters to the inference service (set CPPFORGE_ADMIN_KEYS, or "
                    "CPPFORGE_INFERENCE_API_KEY)")  # fmt: skip
    return {"CPPFORGE_INFERENCE_API_KEY": admin[0]}, None


def banner(urls: StackUrls, *, redis_started: bool, keys: str, log_dir: Path) -> str:
    redis = "off (CPPFORGE_REDIS_URL is empty: no cache)"
    if urls.redis:
        redis = f"{masked_url(urls.redis)} ({'started by cppforge up' if redis_started else 'already running'})"
    return "\n".join([
        "cppforge stack is up:",
        f"  verifier   {urls.verifier}",
        f"  inference  {urls.inference}",
        f"  trainer    {urls.trainer}",
        f"  redis      {redis}",
        f"  API keys   {keys}",
        f"  logs       {log_dir}",
        "Ctrl-C stops everything.",
    ])  # fmt: skip


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def cmd_up(args: argparse.Namespace) -> int:
    from ..trainer import procs
    from .local import LocalStack, StackConfig, check_ports_free  # httpx, redis: only for this command

    env = {"CPPFORGE_MODEL": str(Path(args.model).expanduser().resolve())} if args.model else {}
    rollout_env, warning = rollout_key_env()
    env.update(rollout_env)
    if warning:
        print(f"cppforge up: WARNING: {warning}", file=sys.stderr, flush=True)
    config = StackConfig(
        host=args.host, verifier_port=args.verifier_port, inference_port=args.inference_port,
        trainer_port=args.trainer_port, redis_url=args.redis_url,
        home=Path(args.home) if args.home else None, env=env,
        log=None if args.no_logs else sys.stdout, progress=sys.stdout, ready_timeout_s=args.ready_timeout,
    )  # fmt: skip
    keys = _keys_line(config.host)
    try:
        check_ports_free(config.host, config.ports())  # a clear error before anything starts
    except StackError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    # What a service double-forks re-parents to us, not to init, so that the stop still finds it.
    procs.become_subreaper()
    stack = LocalStack(config)
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main else None
    # A closed terminal or a dropped ssh session (SIGHUP) stops the stack as SIGTERM does.
    previous_hup = signal.signal(signal.SIGHUP, _raise_terminated) if on_main else None
    try:
        print(f"starting the stack (logs in {stack.log_dir})", flush=True)
        urls = stack.start()
        print(banner(urls, redis_started=stack.redis_started, keys=keys, log_dir=stack.log_dir), flush=True)
        while not (dead := stack.exited()):
            time.sleep(0.5)
        names = ", ".join(f"{name} (exit {code})" for name, code in dead.items())
        print(f"cppforge up: {names} stopped; stopping everything", file=sys.stderr, flush=True)
        return EXIT_INFRA
    except StackError as exc:
        raise CliError(str(exc), EXIT_INFRA) from None
    except KeyboardInterrupt:
        print("\ncppforge up: Ctrl-C: stopping everything", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except _Terminated:
        print("cppforge up: SIGTERM/SIGHUP: stopping everything", file=sys.stderr, flush=True)
        return EXIT_OK
    finally:
        if on_main:  # a second Ctrl-C must not cut the stop short and leave processes behind
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        stack.stop()
        procs.become_subreaper(False)  # nothing of ours left to collect (main() may be called in-process)
        if on_main:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
            signal.signal(signal.SIGHUP, previous_hup if previous_hup is not None else signal.SIG_DFL)
        print("cppforge up: stopped", file=sys.stderr, flush=True)
