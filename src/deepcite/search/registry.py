"""Search providers by name: `DEEPCITE_SEARCH=local,brave` picks them in that order."""

from __future__ import annotations

from collections.abc import Callable

from deepcite.config import ConfigError, Settings
from deepcite.search.base import SearchProvider
from deepcite.search.brave import BraveSearch
from deepcite.search.exa import ExaSearch
from deepcite.search.local_index import LocalIndex
from deepcite.search.searxng import SearxngSearch
from deepcite.search.tavily import TavilySearch

ProviderFactory = Callable[[Settings, LocalIndex], SearchProvider]


def _required(settings: Settings, setting: str, provider: str) -> str:
    """The value of `setting`, or a ConfigError saying which variable the provider needs."""
    value = str(getattr(settings, setting)).strip()
    if not value:
        raise ConfigError(
            f"search provider {provider!r} is enabled in DEEPCITE_SEARCH but DEEPCITE_{setting.upper()} is not set"
        )
    return value


PROVIDERS: dict[str, ProviderFactory] = {
    "local": lambda settings, index: index,
    "searxng": lambda settings, index: SearxngSearch(_required(settings, "searxng_url", "searxng")),
    "brave": lambda settings, index: BraveSearch(_required(settings, "brave_api_key", "brave")),
    "tavily": lambda settings, index: TavilySearch(_required(settings, "tavily_api_key", "tavily")),
    "exa": lambda settings, index: ExaSearch(_required(settings, "exa_api_key", "exa")),
}


def build_providers(settings: Settings, index: LocalIndex) -> list[SearchProvider]:
    providers = []
    for name in settings.search_providers:
        factory = PROVIDERS.get(name)
        if factory is None:
            known = ", ".join(sorted(PROVIDERS))
            raise ConfigError(f"unknown search provider {name!r} in DEEPCITE_SEARCH (known: {known})")
        providers.append(factory(settings, index))
    return providers
