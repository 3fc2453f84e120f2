"""Who is calling: API keys from `Authorization: Bearer KEY` or `x-api-key: KEY`.

Accepted keys are those of `settings.api_keys` and the active keys of the `KeyStore`.
With no key configured at all the server is open (the CLI only allows that on
loopback); keys created while the server runs close it at once, and revoking them
all does not open it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac

from starlette.requests import HTTPConnection

from deepcite.config import Settings
from deepcite.errors import AuthenticationError, DeepciteError
from deepcite.store.keys import KeyStore


class MissingApiKeyError(DeepciteError):
    # OpenAI answers a missing key with a 401 that has no code (a wrong key has one).
    status_code = 401
    type = "invalid_request_error"


@dataclasses.dataclass(frozen=True)
class Caller:
    """The identity requests are counted against: a key id, or the client address when open."""

    identity: str
    key_id: str | None


def auth_required(settings: Settings, key_store: KeyStore) -> bool:
    """True when any key is configured (or was: revoked store keys count), so requests
    without a valid key are refused."""
    return bool(settings.api_key_list) or key_store.has_keys()


def presented_key(connection: HTTPConnection) -> str | None:
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    api_key = connection.headers.get("x-api-key", "").strip()
    return api_key or None


def mask_key(key: str) -> str:
    """Show a refused key the way OpenAI does: enough to recognise it, not to use it."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * min(len(key) - 7, 20)}{key[-4:]}"


class Authenticator:
    def __init__(self, settings: Settings, key_store: KeyStore) -> None:
        self._settings = settings
        self._key_store = key_store
        self._env_key_hashes = [hashlib.sha256(k.encode()).digest() for k in settings.api_key_list]

    def _matches_env_key(self, key: str) -> str | None:
        digest = hashlib.sha256(key.encode()).digest()
        for known in self._env_key_hashes:
            if hmac.compare_digest(digest, known):
                # Named by a hash prefix so the key itself never reaches logs or Redis.
                return "env:" + digest.hex()[:16]
        return None

    async def authenticate(self, connection: HTTPConnection) -> Caller:
        """The caller of this request; raises `AuthenticationError` (401) when refused."""
        key = presented_key(connection)
        if key is not None:
            key_id = self._matches_env_key(key) or await asyncio.to_thread(self._key_store.verify, key)
            if key_id is not None:
                return Caller(identity=key_id, key_id=key_id)
        if await asyncio.to_thread(auth_required, self._settings, self._key_store):
            if key is None:
                raise MissingApiKeyError(
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                    "or in an x-api-key header."
                )
            raise AuthenticationError(f"Incorrect API key provided: {mask_key(key)}.")
        client = connection.client.host if connection.client else "unknown"
        return Caller(identity="ip:" + client, key_id=None)
