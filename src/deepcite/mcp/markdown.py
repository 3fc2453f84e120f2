"""What a model reads from deepcite's tools: answers with numbered sources, pages with excerpts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from deepcite.research.search_service import ExtractOutcome, PageResult

_MARKER = re.compile(r"\[(\d+)\]")


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.strip().splitlines() if line.strip())


def numbered_sources(
    content: str, basis: Sequence[dict[str, Any]], annotations: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The sources of an answer as `{n, url, title, excerpts}`, numbered as the answer's `[n]` markers are.

    A marker's number comes from the answer's `url_citation` annotations; cited pages that
    no marker names follow, numbered on.
    """
    excerpts: dict[str, list[str]] = {}
    titles: dict[str, str | None] = {}
    for field in basis:
        for citation in field.get("citations", []):
            url = citation["url"]
            titles.setdefault(url, citation.get("title"))
            for excerpt in citation.get("excerpts", []):
                if excerpt not in excerpts.setdefault(url, []):
                    excerpts[url].append(excerpt)
    by_number: dict[int, str] = {}
    for annotation in annotations:
        cite = annotation.get("url_citation", {})
        found = _MARKER.fullmatch(content[cite.get("start_index", 0) : cite.get("end_index", 0)])
        if found:
            by_number.setdefault(int(found.group(1)), cite["url"])
            titles.setdefault(cite["url"], cite.get("title"))
    numbered = dict(sorted(by_number.items()))
    following = max(numbered, default=0)
    for url in excerpts:
        if url not in numbered.values():
            following += 1
            numbered[following] = url
    return [
        {"n": n, "url": url, "title": titles.get(url), "excerpts": excerpts.get(url, [])} for n, url in numbered.items()
    ]


def answer_markdown(content: str, sources: Sequence[dict[str, Any]], confidence: str | None) -> str:
    lines = [content.strip(), ""]
    if confidence:
        lines += [f"_Confidence: {confidence}_", ""]
    if sources:
        lines.append("**Sources**")
        for source in sources:
            lines.append(f"[{source['n']}] {source['title'] or source['url']} — {source['url']}")
            lines += [_quote(e) for e in source["excerpts"][:2]]
    return "\n".join(lines).strip()


def search_markdown(results: Sequence[PageResult]) -> str:
    if not results:
        return "No results."
    blocks = []
    for n, result in enumerate(results, start=1):
        head = f"[{n}] {result.title or result.url} — {result.url}"
        if result.publish_date:
            head += f" ({result.publish_date})"
        blocks.append("\n".join([head, *(_quote(e) for e in result.excerpts or [])]))
    return "\n\n".join(blocks)


def fetch_markdown(outcome: ExtractOutcome) -> str:
    blocks = []
    for result in outcome.results:
        parts = [f"## {result.title or result.url}", result.url]
        parts += [_quote(e) for e in result.excerpts or []]
        if result.full_content:
            parts.append(result.full_content)
        blocks.append("\n".join(parts))
    for failure in outcome.errors:
        blocks.append(f"## {failure.url}\nnot read ({failure.error_type}): {failure.message}")
    return "\n\n".join(blocks) or "Nothing was read."
