"""Requests per key in a moving window (`limits`), in memory or shared through Redis.

Every guarded response carries OpenAI's `x-ratelimit-*-requests` headers; a refused
request is a 429 `RateLimitError` with `retry-after`.
"""

from __future__ import annotations

import dataclasses
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepcite.config import ConfigError, Settings
from deepcite.errors import RateLimitError, ServiceUnavailableError

STATE_KEY = "rate_limit"
_KEY_PREFIX = "deepcite-ratelimit"


@dataclasses.dataclass(frozen=True)
class RateLimitStatus:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the window frees a request
    period: int  # seconds of the moving window

    def refusal(self) -> RateLimitError:
        return RateLimitError(
            f"Rate limit reached for requests: limit {self.limit} per {self.period}s. "
            f"Please try again in {math.ceil(self.reset_after)}s.",
            retry_after=self.reset_after,
            limit=self.limit,
        )

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": f"{math.ceil(self.reset_after)}s",
        }


def async_storage_url(redis_url: str) -> str:
    """The `limits` async storage URL: `async+redis://...` for Redis, else in memory."""
    if not redis_url:
        return "async+memory://"
    scheme, sep, rest = redis_url.partition("://")
    if not sep:
        raise ConfigError(f"DEEPCITE_REDIS_URL: not a URL: {redis_url!r}")
    if scheme == "unix":
        return "async+redis+unix://" + rest
    return f"async+{scheme}://{rest}"


class RequestRateLimiter:
    def __init__(
        self, rate_limit: str, *, redis_url: str = "", key_prefix: str = _KEY_PREFIX, setting: str = "DEEPCITE_RATE_LIMIT"
    ) -> None:
        try:
            self.item: RateLimitItem = parse(rate_limit)
        except ValueError as exc:
            raise ConfigError(f"{setting}: cannot read {rate_limit!r}: {exc}") from exc
        options: dict[str, str | bool] = {"wrap_exceptions": True}
        if redis_url:
            options |= {"implementation": "redispy", "key_prefix": key_prefix}
        storage = storage_from_string(async_storage_url(redis_url), **options)
        if not isinstance(storage, Storage):  # pragma: no cover - the URL always names an async storage
            raise ConfigError(f"not an async rate-limit storage: {redis_url!r}")
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestRateLimiter:
        return cls(settings.rate_limit, redis_url=settings.redis_url)

    async def hit(self, identity: str) -> RateLimitStatus:
        """Count one request of `identity`; the status says whether it is allowed."""
        return await self._status(identity, count=True)

    async def peek(self, identity: str) -> RateLimitStatus:
        """Whether one more request of `identity` would be allowed, without counting it."""
        return await self._status(identity, count=False)

    async def _status(self, identity: str, *, count: bool) -> RateLimitStatus:
        try:
            if count:
                allowed = await self._limiter.hit(self.item, identity)
            else:
                allowed = await self._limiter.test(self.item, identity)
            stats = await self._limiter.get_window_stats(self.item, identity)
        except StorageError as exc:
            raise ServiceUnavailableError("The rate-limit store is unavailable; try again shortly.") from exc
        return RateLimitStatus(
            allowed=allowed,
            limit=self.item.amount,
            remaining=max(0, stats.remaining),
            reset_after=max(0.0, stats.reset_time - time.time()),
            period=self.item.get_expiry(),
        )


class FailedAuthLimiter:
    """Failed authentications per client address: past the limit, a 429 before any key is checked.

    Guessing keys is then as slow as the limit, and a client that keeps sending a
    revoked key backs off instead of hammering the key store.
    """

    def __init__(self, limit: str, *, redis_url: str = "") -> None:
        self._limiter = RequestRateLimiter(
            limit, redis_url=redis_url, key_prefix=_KEY_PREFIX + "-authfail", setting="DEEPCITE_AUTH_FAILURE_LIMIT"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> FailedAuthLimiter:
        return cls(settings.auth_failure_limit, redis_url=settings.redis_url)

    async def check(self, address: str) -> None:
        """Raise a 429 when `address` has used up its failures."""
        status = await self._limiter.peek("authfail:" + address)
        if not status.allowed:
            raise RateLimitError(
                f"Too many failed authentications from this address: {status.limit} per {status.period}s. "
                f"Please try again in {math.ceil(status.reset_after)}s.",
                retry_after=status.reset_after,
                limit=status.limit,
            )

    async def failed(self, address: str) -> None:
        await self._limiter.hit("authfail:" + address)


class RateLimitHeadersMiddleware:
    """Copy the request's `RateLimitStatus` (left in the ASGI state) onto its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            status = scope.get("state", {}).get(STATE_KEY)
            if message["type"] == "http.response.start" and isinstance(status, RateLimitStatus):
                headers = MutableHeaders(scope=message)
                for name, value in status.headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
