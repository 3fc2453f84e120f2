"""Search providers by name: `DEEPCITE_SEARCH=local,brave` picks them in that order."""

from __future__ import annotations

from collections.abc import Callable

from deepcite.config import ConfigError, Settings
from deepcite.search.base import SearchProvider
from deepcite.search.local_index import LocalIndex

ProviderFactory = Callable[[Settings, LocalIndex], SearchProvider]

PROVIDERS: dict[str, ProviderFactory] = {
    "local": lambda settings, index: index,
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
