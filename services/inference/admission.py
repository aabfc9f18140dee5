"""Admission control: how much decode work each tier, and each key in it, may have in flight.

Every caller shares one decode thread (batcher.py), so without a bound a few callers that queue many
long generations (or open streams they never read) hold everyone else up. A request is admitted
after its prompt is encoded, as `rows` (its candidates) and `tokens` (rows x (prompt + max_tokens),
what it may put through the decode), and holds a Ticket until its generation ends; then the rows
and tokens go back to the pool. The limits, per tier (tiers.py, CPPFORGE_MAX_SEQUENCES and
CPPFORGE_MAX_QUEUED_TOKENS):

- the tier's admitted rows (queued + decoding) stay <= `max_sequences`, its tokens <= `max_queued_tokens`;
- in a tier that several keys share, one key may hold at most its share: max(max_candidates,
  max_sequences // 2) rows and max_queued_tokens // 2 tokens, so one key never locks the tier's other
  keys out. A key that holds nothing is judged against the tier alone: any request that fits the
  empty pool is admitted once the pool drains, and a key holds at most its share or one request.
  A tier with a single key (and the open mode's one caller) may use the whole pool.

A request larger than the whole empty pool can never be admitted: 403 `tier_limit_exceeded` naming
the limit (retrying cannot help). A request that does not fit now: 429 `concurrency_limit_exceeded`
with Retry-After, estimated as the tier's typical hold time (a moving average over the tickets
released so far; 1 s before any) less the age of the oldest ticket in the pool that refused it,
in whole seconds within 1..60.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from .errors import InferenceError, TierLimitError
from .tiers import Tier

_FIRST_HOLD_S = 1.0  # the hold-time estimate before any ticket was released
_EWMA = 0.2  # weight of the newest hold time in the estimate
_MAX_RETRY_AFTER_S = 60


class ConcurrencyLimitError(InferenceError):
    """The tier (or the key's share of it) is full now (429, Retry-After): the same request fits later."""

    status = 429
    code = "concurrency_limit_exceeded"
    error_type = "rate_limit_exceeded"  # as the request rate limit: OpenAI's clients retry 429s

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(f"{message}; retry in {retry_after_s}s", retry_after_s=retry_after_s)


@dataclass
class _Held:
    """Rows and tokens admitted and not yet released, with when each ticket was admitted."""

    rows: int = 0
    tokens: int = 0
    since: dict[int, float] = field(default_factory=dict)  # ticket id -> admitted at (monotonic)

    def add(self, ticket: Ticket) -> None:
        self.rows += ticket.rows
        self.tokens += ticket.tokens
        self.since[ticket.id] = ticket.admitted_at

    def remove(self, ticket: Ticket) -> None:
        self.rows -= ticket.rows
        self.tokens -= ticket.tokens
        self.since.pop(ticket.id, None)

    def oldest_age(self, now: float) -> float:
        return now - min(self.since.values()) if self.since else 0.0


@dataclass(frozen=True)
class PoolUse:
    """One tier's pool as /metrics and /healthz show it."""

    sequences: int
    tokens: int
    max_sequences: int
    max_queued_tokens: int


class Ticket:
    """An admitted request's hold on its tier's pool; `release()` gives it back, once (again: no-op).
    As a context manager it releases on exit."""

    def __init__(self, admission: Admission, *, id: int, key: str, tier: str, rows: int, tokens: int) -> None:
        self._admission = admission
        self.id, self.key, self.tier, self.rows, self.tokens = id, key, tier, rows, tokens
        self.admitted_at = admission.clock()
        self.released = False

    def release(self) -> None:
        self._admission._release(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class Admission:
    """Thread-safe: admitted on the event loop, released from the batcher's thread or the loop."""

    def __init__(
        self,
        tiers: Iterable[Tier] = (),
        keys_per_tier: Mapping[str, int] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`tiers`: those in use (shown by `snapshot` from the start); `keys_per_tier`: how many keys
        generate with each tier (a tier with more than one splits by key)."""
        self.keys_per_tier = dict(keys_per_tier or {})
        self.clock = clock
        self._lock = threading.Lock()
        self._tiers: dict[str, _Held] = {t.name: _Held() for t in tiers}
        self._keys: dict[tuple[str, str], _Held] = {}
        # tier -> (max_sequences, max_queued_tokens), as last admitted against
        self._limits: dict[str, tuple[int, int]] = {t.name: (t.max_sequences, t.max_queued_tokens) for t in tiers}
        self._hold_s: dict[str, float] = {}  # tier -> moving average of hold times
        self._next_id = 0

    def shared(self, tier: Tier) -> bool:
        return self.keys_per_tier.get(tier.name, 0) > 1

    @staticmethod
    def key_share(tier: Tier) -> tuple[int, int]:
        """(rows, tokens) one key of a shared tier may hold at once (beyond a single request)."""
        rows = min(tier.max_sequences, max(tier.max_candidates, tier.max_sequences // 2))
        return rows, max(1, tier.max_queued_tokens // 2)

    def admit(self, key: str, tier: Tier, *, rows: int, tokens: int, rows_param: str = "n") -> Ticket:
        """A Ticket, or TierLimitError (403: never fits the tier) / ConcurrencyLimitError (429: not now).
        `rows_param`: the request field that set the rows (n, or best_of), named by a 403."""
        if rows > tier.max_sequences:
            raise TierLimitError(
                f"the request needs {rows} sequences at once; the {tier.name} tier runs at most "
                f"{tier.max_sequences} (max_sequences)",
                rows_param,
            )
        if tokens > tier.max_queued_tokens:
            raise TierLimitError(
                f"the request needs {tokens} tokens (candidates x (prompt + max_tokens)); the {tier.name} tier "
                f"admits at most {tier.max_queued_tokens} at once (max_queued_tokens): lower max_tokens or the prompt",
                "max_tokens",
            )
        with self._lock:
            now = self.clock()
            self._limits[tier.name] = (tier.max_sequences, tier.max_queued_tokens)
            pool = self._tiers.setdefault(tier.name, _Held())
            mine = self._keys.get((tier.name, key), _Held())
            if pool.rows + rows > tier.max_sequences or pool.tokens + tokens > tier.max_queued_tokens:
                raise ConcurrencyLimitError(
                    f"the {tier.name} tier is at its limit ({pool.rows}/{tier.max_sequences} sequences, "
                    f"{pool.tokens}/{tier.max_queued_tokens} tokens in flight; this request adds {rows} and {tokens})",
                    self._retry_after(tier.name, pool, now),
                )
            share_rows, share_tokens = self.key_share(tier)
            if (
                self.shared(tier)
                and mine.since
                and (mine.rows + rows > share_rows or mine.tokens + tokens > share_tokens)
            ):
                raise ConcurrencyLimitError(
                    f"this key holds its share of the {tier.name} tier ({mine.rows}/{share_rows} sequences, "
                    f"{mine.tokens}/{share_tokens} tokens in flight; this request adds {rows} and {tokens})",
                    self._retry_after(tier.name, mine, now),
                )
            self._next_id += 1
            ticket = Ticket(self, id=self._next_id, key=key, tier=tier.name, rows=rows, tokens=tokens)
            pool.add(ticket)
            mine.add(ticket)
            self._keys[(tier.name, key)] = mine
            return ticket

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            self._tiers[ticket.tier].remove(ticket)
            mine = self._keys[(ticket.tier, ticket.key)]
            mine.remove(ticket)
            if not mine.since:  # no entry per key ever seen: a key's state lives while it holds something
                del self._keys[(ticket.tier, ticket.key)]
            held = self.clock() - ticket.admitted_at
            last = self._hold_s.get(ticket.tier)
            self._hold_s[ticket.tier] = held if last is None else (1 - _EWMA) * last + _EWMA * held

    def _retry_after(self, tier: str, pool: _Held, now: float) -> int:
        """Under the lock: when the oldest ticket of `pool` should be done, from the tier's typical hold time."""
        wait = self._hold_s.get(tier, _FIRST_HOLD_S) - pool.oldest_age(now)
        return min(_MAX_RETRY_AFTER_S, max(1, math.ceil(wait)))

    def snapshot(self) -> dict[str, PoolUse]:
        """Every tier seen so far: what is in flight against its limits."""
        with self._lock:
            return {
                name: PoolUse(held.rows, held.tokens, *self._limits[name]) for name, held in sorted(self._tiers.items())
            }
