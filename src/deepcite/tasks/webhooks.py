"""Webhooks: a finished run is posted to its `webhook.url`, signed the Standard Webhooks way.

Signature: `webhook-id`, `webhook-timestamp` and `webhook-signature` headers made by the
`standardwebhooks` package, HMAC-SHA256 with a secret of the API key's own (derived from
the server's secret; a key reads it at `GET /v1/tasks/webhook-secret`). Delivery goes
through the fetcher's SSRF guard, so a webhook to a private address is refused unless
the fetcher would be allowed there (`DEEPCITE_FETCH_ALLOW_PRIVATE`, `DEEPCITE_FETCH_ALLOW_HOSTS`).
A failed delivery is tried again after 1, 2, 4, 8 and 16 s; every outcome is an event of
the run (`webhook.delivered` or `webhook.failed`). Deliveries still pending when the
server stops are dropped: the run itself is stored either way.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from deepcite.config import Settings
from deepcite.errors import FetchError
from deepcite.fetch.ssrf import GuardedTransport, SSRFGuard
from deepcite.tasks.runs import RunStore
from deepcite.tasks.store import TaskRun, iso

log = logging.getLogger("deepcite.tasks")

STATUS_EVENT = "task_run.status"
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
TIMEOUT_SECONDS = 10.0


class WebhookSecrets:
    """Each API key's signing secret: HMAC of its identity under the server's secret."""

    def __init__(self, master: bytes) -> None:
        self._master = master

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSecrets:
        if settings.webhook_secret:
            return cls(settings.webhook_secret.encode())
        return cls(_stored_secret(settings.home / "webhook_secret"))

    def for_caller(self, identity: str) -> str:
        key = hmac.new(self._master, identity.encode(), hashlib.sha256).digest()
        return "whsec_" + base64.b64encode(key).decode()


def _stored_secret(path: Path) -> bytes:
    """The server's secret, made once; several workers starting together agree on the first one written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        store: RunStore,
        secrets_: WebhookSecrets,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.secrets = secrets_
        self._store = store
        self._guard = SSRFGuard.from_settings(settings)
        self._delays = tuple(retry_delays)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(self._guard, limits=httpx.Limits(max_connections=8)),
            timeout=httpx.Timeout(TIMEOUT_SECONDS),
            follow_redirects=False,  # a redirect could lead past the guard's first look
            trust_env=False,
        )
        self._pending: set[asyncio.Task[bool]] = set()

    async def notify(self, run: TaskRun) -> None:
        """Start delivering `run`'s webhook, if it asked for one, without waiting for it."""
        hook = run.webhook or {}
        if not hook.get("url") or STATUS_EVENT not in (hook.get("event_types") or [STATUS_EVENT]):
            return
        task = asyncio.create_task(self.deliver(run, str(hook["url"])))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def aclose(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.aclose()

    async def deliver(self, run: TaskRun, url: str) -> bool:
        payload = json.dumps(
            {"type": STATUS_EVENT, "timestamp": iso(run.modified_at), "data": run.public()}, ensure_ascii=False
        )
        # The same id on every try, so the receiver can tell a retry from a new event.
        message_id = f"msg_{run.run_id}_{run.status}"
        signer = Webhook(self.secrets.for_caller(run.owner))
        failure = ""
        for attempt, delay in enumerate((0.0, *self._delays), start=1):
            await asyncio.sleep(delay)
            sent_at = datetime.datetime.now(datetime.UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signer.sign(message_id, sent_at, payload),
            }
            try:
                self._guard.check_url(httpx.URL(url))
                response = await self._client.post(url, content=payload.encode(), headers=headers)
            except FetchError as exc:
                # A refused address stays refused: trying again would only knock on it again.
                await self._record(run, "webhook.failed", url, attempt, exc.message)
                return False
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                await self._record(run, "webhook.delivered", url, attempt, f"HTTP {response.status_code}")
                return True
            failure = f"HTTP {response.status_code}"
        await self._record(run, "webhook.failed", url, len(self._delays) + 1, failure)
        return False

    async def _record(self, run: TaskRun, type_: str, url: str, attempts: int, detail: str) -> None:
        if type_ == "webhook.failed":
            log.warning("webhook of %s to %s failed after %d tries: %s", run.run_id, url, attempts, detail)
        try:
            await self._store.add_event(run.run_id, type_, {"url": url, "attempts": attempts, "detail": detail})
        except Exception:
            log.exception("cannot record the webhook outcome of %s", run.run_id)
