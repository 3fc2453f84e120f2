"""Every bound a request body must keep, in one place (the README's "Limits" lists them).

Size comes first (`Settings.max_body_bytes`, 413); then the shape of the JSON (depth,
number literals, valid Unicode) is checked by `body.read_json_body` before any model
sees it; then each request model (`schemas`, `search_extract`) bounds its fields.
Response schemas have bounds of their own: `deepcite.llm.schema_limits`.
"""

from __future__ import annotations

# Nesting of arrays and objects in a body. Python's own decoder gives up near 1,000,
# with an exception that is not a parse error; the validators recurse per level too.
MAX_JSON_DEPTH = 64
# Characters of one number literal. Python refuses ints over 4,300 digits with a
# ValueError; no field of ours needs more than a few dozen.
MAX_NUMBER_CHARS = 100
# Bodies larger than this are decoded and checked in a worker thread, off the event loop.
THREADED_BODY_BYTES = 64_000

MAX_MESSAGES = 256
MAX_MESSAGE_CHARS = 100_000  # text of one message, content parts joined
MAX_NAME_CHARS = 256  # `model`, a message's `name`, a schema's `name`
# A search query or URL of the Search and Extract APIs.
MAX_QUERY_CHARS = 2_000
MAX_URL_CHARS = 8_000
