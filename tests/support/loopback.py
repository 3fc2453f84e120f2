"""Tiny HTTP servers on 127.0.0.1, each in a thread, for tests that talk over real sockets.

A test server has three parts: a state object (`Loopback` or a subclass) that knows its
port and holds what the test scripts and inspects; a handler (a `LoopbackHandler`
subclass) that answers from `self.server.state`; and `serve_in_thread`, which runs the
two on a free port for the length of a `with` block.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

HOST = "127.0.0.1"


class Loopback:
    """A running test server as its test sees it: its address, and an event set when it stops."""

    host = HOST

    def __init__(self, port: int) -> None:
        self.port = port
        # Handlers that wait (a slow page, a delayed reply) wait on this, so stopping is never held up.
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path


StateT = TypeVar("StateT", bound=Loopback)


class LoopbackServer(http.server.ThreadingHTTPServer, Generic[StateT]):
    daemon_threads = True
    state: StateT


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    """The base of the test servers' handlers: quiet, with the two usual ways to answer."""

    def handle(self) -> None:
        # A client that stops reading (a page too large, a timeout) is what many tests provoke.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def send_body(self, status: int, content_type: str, body: bytes, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer `body` whole, with its length; no Content-Type header where `content_type` is empty."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send_body(status, "", b"", headers=[("Location", location)])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # keep test output quiet


@contextlib.contextmanager
def serve_in_thread(handler: type[LoopbackHandler], make_state: Callable[[int], StateT]) -> Iterator[StateT]:
    """Serve `handler` on a free 127.0.0.1 port until the block ends; yields the state made for that port."""
    server: LoopbackServer[StateT] = LoopbackServer((HOST, 0), handler)
    server.state = make_state(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
