"""Parallel's source policy and Perplexity's aliases become one policy."""

from __future__ import annotations

import datetime

from deepcite.search.policy import SourcePolicy, combined_policy, recency_date


def test_a_domain_filter_splits_into_allowed_and_denied_domains() -> None:
    policy = combined_policy(["news.example"], domain_filter=["https://www.Docs.Example/x", "-spam.example"])
    assert policy == SourcePolicy(("news.example", "docs.example"), ("spam.example",), None)
    assert policy.allows("https://api.docs.example/page", None)
    assert not policy.allows("https://spam.example/page", None)
    assert not policy.allows("https://elsewhere.example/page", None)


def test_the_later_of_two_dates_wins_and_nothing_asked_is_no_policy() -> None:
    week = recency_date("week")
    assert week == datetime.date.today() - datetime.timedelta(days=7)
    policy = combined_policy(after_date=datetime.date(2000, 1, 1), recency="week")
    assert policy is not None and policy.after_date == week
    assert not policy.allows("https://a.example", (week - datetime.timedelta(days=1)).isoformat())
    assert combined_policy() is None
