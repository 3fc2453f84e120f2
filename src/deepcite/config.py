"""One `Settings` object, built once at start-up and passed down.

Every setting is declared once, as a field of `Settings` with its default and doc;
`SETTINGS` lists them for the CLI, the server and the README test.
Precedence: defaults < TOML file (`DEEPCITE_CONFIG`) < environment (`DEEPCITE_*`) < CLI flags.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from deepcite.errors import DeepciteError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    doc: str

    @property
    def env_var(self) -> str:
        return "DEEPCITE_" + self.name.upper()




class ConfigError(DeepciteError):
    pass


def _coerce(setting: Setting, value: Any) -> Any:
    if isinstance(value, setting.type) and not (setting.type is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    try:
        if setting.type is bool:
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        return setting.type(text)
    except ValueError as exc:
        raise ConfigError(f"{setting.env_var}: cannot read {text!r} as {setting.type.__name__}") from exc


# Shared by the setting and by an `EmbeddedModel` built without settings.
DEFAULT_MODEL_CACHE = Path("~/.cache/deepcite/models")


def _setting(default: T, doc: str) -> T:
    """A Settings field with its documentation, read by the CLI, README test and `SETTINGS`."""
    field: T = dataclasses.field(default=default, metadata={"doc": doc})
    return field


@dataclasses.dataclass(frozen=True)
class Settings:
    home: Path = _setting(Path("~/.local/share/deepcite"), "Folder of the local index, keys and caches.")
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(8000, "Port the server listens on.")
    workers: int = _setting(1, "Server worker processes.")
    insecure_no_auth: bool = _setting(False, "Allow listening on a non-loopback address without API keys.")
    api_keys: str = _setting("", "Comma-separated API keys accepted besides those made by `deepcite keys create`.")
    rate_limit: str = _setting("300/minute", "Requests allowed per key (`limits` notation).")
    auth_failure_limit: str = _setting("10/minute", "Failed authentications allowed per client address; 429 beyond.")
    redis_url: str = _setting("", "Redis URL: shares rate limits, caches and task runs across workers when set.")
    max_body_bytes: int = _setting(1_000_000, "Largest request body accepted (413 above it).")
    max_question_tokens: int = _setting(1_000, "Longest question (last user message) accepted, in tokens (400 above it).")
    # The embedded model writes one answer at a time: requests run side by side only share
    # it, each slower. Raise it for an upstream model that serves many at once.
    queue_active: int = _setting(1, "Chat requests one model runs at once; more wait in its queue.")
    queue_waiting: int = _setting(16, "Chat requests that may wait for one model; beyond, a 503 with retry-after at once.")
    queue_max_wait: float = _setting(
        30.0, "Seconds a chat request may be expected to wait in line; beyond, a 503 with retry-after at once."
    )
    request_timeout: float = _setting(120.0, "Seconds one chat request may take in all, waiting included (504 after).")
    llm_base_url: str = _setting("", "OpenAI-compatible upstream LLM; empty means the embedded model.")
    llm_model: str = _setting("", "Model name sent to the upstream LLM.")
    llm_api_key: str = _setting("", "API key for the upstream LLM.")
    llm_timeout: float = _setting(60.0, "Seconds one upstream LLM generation may take in all, content or not.")
    llm_embedded: str = _setting(
        "qwen2.5-coder-1.5b",
        "Embedded model when no upstream is set: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b or smollm2-135m (small, weak).",
    )
    model_cache: Path = _setting(
        DEFAULT_MODEL_CACHE, "Folder where the embedded model's chunks are joined once (1.1 GB)."
    )
    llm_threads: int = _setting(2, "CPU threads of the embedded model.")
    llm_context: int = _setting(2048, "Context window of the embedded model, in tokens.")
    search: str = _setting("local", "Comma-separated search providers, by name (local, searxng, brave, tavily, exa).")
    searxng_url: str = _setting("", "Base URL of a SearXNG instance.")
    brave_api_key: str = _setting("", "Brave Search API key.")
    tavily_api_key: str = _setting("", "Tavily API key.")
    exa_api_key: str = _setting("", "Exa API key.")
    seed_sample_corpus: bool = _setting(True, "Fill an empty local index with the bundled sample corpus on first serve.")
    fetch_allow_private: bool = _setting(False, "Let the fetcher read private, loopback and link-local addresses.")
    fetch_allow_hosts: str = _setting(
        "", "Comma-separated `host` (ports 80, 443), `host:port` or `host:*` the fetcher may read even when private."
    )
    fetch_timeout: float = _setting(10.0, "Seconds one page fetch may take.")
    fetch_max_bytes: int = _setting(5_000_000, "Largest page body read, in bytes.")
    cache_ttl: int = _setting(86_400, "Seconds a fetched page stays cached.")
    task_workers: int = _setting(2, "Task runs that one server process runs at once.")
    task_queue_limit: int = _setting(1000, "Queued task runs accepted before new ones are refused (503, retry-after).")
    webhook_secret: str = _setting(
        "", "Server secret the per-key webhook signing secrets derive from; empty: one made and kept in DEEPCITE_HOME."
    )
    task_lease_seconds: float = _setting(
        30.0, "Seconds a task run stays claimed without news from its server; then it is retried once or failed."
    )

    @classmethod
    def load(
        cls,
        env: Mapping[str, str],
        overrides: Mapping[str, Any] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Build settings from defaults, a TOML file, the environment and CLI overrides."""
        values: dict[str, Any] = {}
        path = config_file or (Path(env["DEEPCITE_CONFIG"]) if env.get("DEEPCITE_CONFIG") else None)
        if path is not None:
            try:
                data = tomllib.loads(path.expanduser().read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read config file {path}: {exc}") from exc
            for key, value in data.items():
                if key not in _BY_NAME:
                    raise ConfigError(f"unknown setting {key!r} in {path}")
                values[key] = value
        for setting in SETTINGS:
            if setting.env_var in env:
                values[setting.name] = env[setting.env_var]
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        coerced = {k: _coerce(_BY_NAME[k], v) for k, v in values.items()}
        settings = cls(**coerced)
        return dataclasses.replace(
            settings, home=settings.home.expanduser(), model_cache=settings.model_cache.expanduser()
        )

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def search_providers(self) -> list[str]:
        return [p.strip() for p in self.search.split(",") if p.strip()]

    @property
    def fetch_allowed_hosts(self) -> list[str]:
        return [h.strip() for h in self.fetch_allow_hosts.split(",") if h.strip()]

    @property
    def index_path(self) -> Path:
        return self.home / "index.sqlite3"

    @property
    def tasks_path(self) -> Path:
        """SQLite file of task runs and their events."""
        return self.home / "tasks.sqlite3"

    @property
    def state_path(self) -> Path:
        """SQLite file of API keys and caches (when Redis is not configured)."""
        return self.home / "state.sqlite3"


# Every setting, declared once by the Settings fields above.
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, typing.get_type_hints(Settings)[f.name], f.default, f.metadata["doc"])
    for f in dataclasses.fields(Settings)
)
_BY_NAME = {s.name: s for s in SETTINGS}
