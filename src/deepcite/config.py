"""One `Settings` object, built once at start-up and passed down.

Every setting is declared once in `SETTINGS` (name, type, default, doc); the CLI,
the server, the README table and the tests read that declaration.
Precedence: defaults < TOML file (`DEEPCITE_CONFIG`) < environment (`DEEPCITE_*`) < CLI flags.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepcite.errors import DeepciteError


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    doc: str

    @property
    def env_var(self) -> str:
        return "DEEPCITE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("home", Path, Path("~/.local/share/deepcite"), "Folder of the local index, keys and caches."),
    Setting("host", str, "127.0.0.1", "Address the server listens on."),
    Setting("port", int, 8000, "Port the server listens on."),
    Setting("workers", int, 1, "Server worker processes."),
    Setting("insecure_no_auth", bool, False, "Allow listening on a non-loopback address without API keys."),
    Setting("api_keys", str, "", "Comma-separated API keys accepted besides those made by `deepcite keys create`."),
    Setting("rate_limit", str, "300/minute", "Requests allowed per key (`limits` notation)."),
    Setting("redis_url", str, "", "Redis URL: shares rate limits and caches across workers when set."),
    Setting("max_body_bytes", int, 1_000_000, "Largest request body accepted (413 above it)."),
    Setting("llm_base_url", str, "", "OpenAI-compatible upstream LLM; empty means the embedded model."),
    Setting("llm_model", str, "", "Model name sent to the upstream LLM."),
    Setting("llm_api_key", str, "", "API key for the upstream LLM."),
    Setting("llm_threads", int, 2, "CPU threads of the embedded model."),
    Setting("llm_context", int, 2048, "Context window of the embedded model, in tokens."),
    Setting("search", str, "local", "Comma-separated search providers, by name (local, searxng, brave, tavily, exa)."),
    Setting("searxng_url", str, "", "Base URL of a SearXNG instance."),
    Setting("brave_api_key", str, "", "Brave Search API key."),
    Setting("tavily_api_key", str, "", "Tavily API key."),
    Setting("exa_api_key", str, "", "Exa API key."),
    Setting("seed_sample_corpus", bool, True, "Fill an empty local index with the bundled sample corpus on first serve."),
    Setting("fetch_allow_private", bool, False, "Let the fetcher read private, loopback and link-local addresses."),
    Setting("fetch_allow_hosts", str, "", "Comma-separated hosts the fetcher may read even when private."),
    Setting("fetch_timeout", float, 10.0, "Seconds one page fetch may take."),
    Setting("fetch_max_bytes", int, 5_000_000, "Largest page body read, in bytes."),
    Setting("cache_ttl", int, 86_400, "Seconds a fetched page stays cached."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


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


@dataclasses.dataclass(frozen=True)
class Settings:
    home: Path = Path("~/.local/share/deepcite")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    insecure_no_auth: bool = False
    api_keys: str = ""
    rate_limit: str = "300/minute"
    redis_url: str = ""
    max_body_bytes: int = 1_000_000
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_threads: int = 2
    llm_context: int = 2048
    search: str = "local"
    searxng_url: str = ""
    brave_api_key: str = ""
    tavily_api_key: str = ""
    exa_api_key: str = ""
    seed_sample_corpus: bool = True
    fetch_allow_private: bool = False
    fetch_allow_hosts: str = ""
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = 5_000_000
    cache_ttl: int = 86_400

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
        return dataclasses.replace(settings, home=settings.home.expanduser())

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
    def state_path(self) -> Path:
        """SQLite file of API keys and caches (when Redis is not configured)."""
        return self.home / "state.sqlite3"
