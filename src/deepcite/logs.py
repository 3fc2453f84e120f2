"""The server's log lines: plain text on stderr.

Set up before the MCP server is built, because the MCP SDK otherwise puts a Rich
handler on the root logger, and Rich lays out every line as a table: about 1 ms of
event-loop time a line, which made 200 refused requests wait over a second.
"""

from __future__ import annotations

import logging

FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Plain log lines on stderr, unless the root logger already has a handler."""
    logging.basicConfig(level=level, format=FORMAT)
