"""Secrets never reach the access log: query-string credentials are redacted.

Keys are only read from headers, but clients still try `?api_key=...`; uvicorn's
access log would print the request line, key and all. `RedactSecrets` rewrites the
values of credential-like query parameters before the line is formatted.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
_SECRET_PARAM = re.compile(
    r"([?&;](?:api[_-]?key|key|token|access[_-]?token|auth|authorization|bearer|password|passwd|secret|sig|signature)=)"
    r"[^&;#\s]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with the value of every credential-like query parameter replaced."""
    return _SECRET_PARAM.sub(lambda match: match[1] + REDACTED, text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_access_log_redaction(logger_name: str = ACCESS_LOGGER) -> None:
    """Add `RedactSecrets` to the access logger once (uvicorn configures its handlers first)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
