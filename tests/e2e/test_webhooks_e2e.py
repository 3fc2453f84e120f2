"""Webhooks of finished runs reach a receiver on 127.0.0.1, signed so that `standardwebhooks` verifies them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from e2e_server import RunningServer
from standardwebhooks import Webhook
from task_client import OTHER_KEY, TaskClient
from tests.support.loopback import Loopback, LoopbackHandler, serve_in_thread


class Receiver(Loopback):
    """Answers 500 to the first `fail_first` deliveries, then 204; keeps every delivery."""

    def __init__(self, port: int, fail_first: int = 1) -> None:
        super().__init__(port)
        self.fail_first = fail_first
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()


class ReceiverHandler(LoopbackHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        state: Receiver = self.server.state  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with state.lock:
            state.deliveries.append((dict(self.headers.items()), body))
            failing = len(state.deliveries) <= state.fail_first
        self.send_body(500 if failing else 204, "", b"")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_in_thread(ReceiverHandler, Receiver) as state:
        yield state


def _wait_for(condition: object, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_webhook_is_signed_and_retried_after_a_500(task_server: RunningServer, receiver: Receiver) -> None:
    client = TaskClient(task_server)
    try:
        secret = client.http.get("/v1/tasks/webhook-secret").json()["secret"]
        assert secret.startswith("whsec_")
        run = client.submit(webhook={"url": receiver.url("/hooks/deepcite"), "event_types": ["task_run.status"]})
        _wait_for(lambda: len(receiver.deliveries) >= 2)
        verifier = Webhook(secret)
        payloads = [verifier.verify(body, headers) for headers, body in receiver.deliveries]
        assert all(p["type"] == "task_run.status" for p in payloads)
        assert {p["data"]["run_id"] for p in payloads} == {run["run_id"]}
        assert payloads[-1]["data"]["status"] == "completed"
        ids = {headers["webhook-id"] for headers, _ in receiver.deliveries}
        assert len(ids) == 1, "a retry carries the same webhook-id"
        _wait_for(lambda: any(e["type"] == "webhook.delivered" for e in client.events(run["run_id"])))
        delivered = next(e for e in client.events(run["run_id"]) if e["type"] == "webhook.delivered")
        assert delivered["attempts"] == 2
        other_secret = TaskClient(task_server, key=OTHER_KEY)
        try:
            wrong = Webhook(other_secret.http.get("/v1/tasks/webhook-secret").json()["secret"])
            with pytest.raises(Exception, match="signature"):
                wrong.verify(*reversed(receiver.deliveries[-1]))
        finally:
            other_secret.close()
    finally:
        client.close()


def test_a_webhook_to_a_private_address_is_refused(server: RunningServer, receiver: Receiver) -> None:
    client = TaskClient(server)
    try:
        run = client.submit(webhook={"url": receiver.url("/hooks")})
        assert client.poll(run["run_id"])["status"] == "completed"
        _wait_for(lambda: any(e["type"] == "webhook.failed" for e in client.events(run["run_id"])), 30)
        failed = next(e for e in client.events(run["run_id"]) if e["type"] == "webhook.failed")
        assert "loopback" in failed["detail"]
        assert receiver.deliveries == []
        bad = client.http.post("/v1/tasks/runs", json={"input": "x", "webhook": {"url": "file:///etc/passwd"}})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "webhook.url"
    finally:
        client.close()
