"""Source policy: which pages a search may return, applied to every provider's hits.

Parallel's `source_policy` (`include_domains`, `exclude_domains`, `after_date`) and
Perplexity's `search_domain_filter` (a `-` prefix denies) and `search_recency_filter`
(`hour` ... `year`) say the same things; both become one `SourcePolicy`. The research
engine searches through `filtered_providers`, so a denied page never becomes evidence
and so never a citation.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from typing import Literal
from urllib.parse import urlsplit

from deepcite.search.base import SearchHit, SearchProvider

Recency = Literal["hour", "day", "week", "month", "year"]
_RECENCY_DAYS: dict[str, int] = {"hour": 1, "day": 1, "week": 7, "month": 31, "year": 366}
# Filtering drops hits: ask each provider for more so that enough allowed ones remain.
OVERFETCH = 3


def normalize_domain(value: str) -> str:
    """The host a domain filter names: `https://www.Example.com/x` and `*.example.com` -> `example.com`."""
    text = value.strip().lower()
    host = urlsplit(text).hostname if "://" in text else text.split("/", 1)[0]
    return _without_www((host or "").lstrip("*.").rstrip("."))


def _without_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def _within(host: str, domain: str) -> bool:
    """Whether `host` is `domain` or one of its subdomains."""
    return bool(domain) and (host == domain or host.endswith("." + domain))


def parse_date(value: str | None) -> datetime.date | None:
    """The calendar date at the start of an ISO date or timestamp; None when there is none."""
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class SourcePolicy:
    """Which pages a search may return. Domains match their subdomains too."""

    include_domains: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    # Pages published before this date are dropped; pages of unknown date are kept.
    after_date: datetime.date | None = None

    @classmethod
    def of(
        cls, include: Iterable[str] = (), exclude: Iterable[str] = (), after_date: datetime.date | None = None
    ) -> SourcePolicy:
        return cls(
            include_domains=tuple(d for d in map(normalize_domain, include) if d),
            exclude_domains=tuple(d for d in map(normalize_domain, exclude) if d),
            after_date=after_date,
        )

    def allows(self, url: str, publish_date: str | None) -> bool:
        host = _without_www((urlsplit(url).hostname or "").lower())
        if self.include_domains and not any(_within(host, d) for d in self.include_domains):
            return False
        if any(_within(host, d) for d in self.exclude_domains):
            return False
        if self.after_date is not None:
            published = parse_date(publish_date)
            if published is not None and published < self.after_date:
                return False
        return True



def recency_date(recency: Recency, today: datetime.date | None = None) -> datetime.date:
    """The earliest publication date a Perplexity `search_recency_filter` keeps (dates, so `hour` is a day)."""
    return (today or datetime.date.today()) - datetime.timedelta(days=_RECENCY_DAYS[recency])


def combined_policy(
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    after_date: datetime.date | None = None,
    *,
    domain_filter: Iterable[str] = (),
    recency: Recency | None = None,
) -> SourcePolicy | None:
    """One policy from Parallel's fields and Perplexity's aliases; None when nothing is asked."""
    filters = [d.strip() for d in domain_filter if d.strip()]
    includes = [*include, *(d for d in filters if not d.startswith("-"))]
    excludes = [*exclude, *(d[1:] for d in filters if d.startswith("-"))]
    dates = [d for d in (after_date, recency_date(recency) if recency else None) if d is not None]
    policy = SourcePolicy.of(includes, excludes, max(dates) if dates else None)
    return None if policy == SourcePolicy() else policy


class FilteredProvider:
    """A provider whose hits the policy has been applied to."""

    def __init__(self, inner: SearchProvider, policy: SourcePolicy) -> None:
        self.name = inner.name
        self._inner = inner
        self._policy = policy

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        hits = await self._inner.search(query, limit=limit * OVERFETCH)
        return [hit for hit in hits if self._policy.allows(hit.url, hit.publish_date)][:limit]


def filtered_providers(providers: Sequence[SearchProvider], policy: SourcePolicy | None) -> list[SearchProvider]:
    if policy is None:
        return list(providers)
    return [FilteredProvider(provider, policy) for provider in providers]
