"""The one exception tree of deepcite.

Every error a client can see is a `DeepciteError`; the API layer renders it as
OpenAI's error envelope with `status_code`, `type`, `param` and `code`.
Vendor errors are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class DeepciteError(Exception):
    status_code = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequestError(DeepciteError):
    status_code = 400
    type = "invalid_request_error"


class AuthenticationError(DeepciteError):
    status_code = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDeniedError(DeepciteError):
    status_code = 403
    type = "invalid_request_error"


class NotFoundError(DeepciteError):
    status_code = 404
    type = "invalid_request_error"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class RequestTooLargeError(DeepciteError):
    status_code = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimitError(DeepciteError):
    status_code = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, limit: int, remaining: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
        self.remaining = remaining


class UpstreamError(DeepciteError):
    """A provider we depend on (LLM upstream, search API, web page) failed."""

    status_code = 502
    type = "api_error"
    code = "upstream_error"


class ServiceUnavailableError(DeepciteError):
    status_code = 503
    type = "api_error"
    code = "service_unavailable"

    def __init__(
        self, message: str, *, param: str | None = None, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.retry_after = retry_after  # sent as `retry-after` when known


class DeadlineExceededError(DeepciteError):
    """A request ran past its overall deadline (queue, research and generation together)."""

    status_code = 504
    type = "api_error"
    code = "deadline_exceeded"


class FetchError(DeepciteError):
    """A page could not be fetched or was refused (SSRF guard, size, type)."""

    status_code = 422
    type = "invalid_request_error"
    code = "fetch_failed"


class StructuredOutputError(DeepciteError):
    """The model could not produce JSON that validates against the requested schema."""

    status_code = 500
    type = "server_error"
    code = "structured_output_failed"
