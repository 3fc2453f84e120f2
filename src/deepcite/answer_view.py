"""How `deepcite ask` shows an answer in the terminal: progress, the streamed text, the sources.

Research steps go to stderr (a live line on a terminal, plain lines otherwise), so
stdout holds only the answer and its sources and can be piped. Text from the answer
and the pages is printed with markup off: it is data, never rich markup.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from rich.console import Console
from rich.status import Status
from rich.table import Table
from rich.text import Text

from deepcite.research.basis import FieldBasis, UrlCitation
from deepcite.research.events import Basis, Progress, ResearchEvent, TextDelta

CONFIDENCE_STYLE = {"high": "green", "medium": "yellow", "low": "red"}


def source_numbers(content: str, annotations: list[UrlCitation], basis: list[FieldBasis]) -> dict[str, int]:
    """url -> the number its `[n]` markers carry in the answer; uncited sources numbered after them."""
    numbers: dict[str, int] = {}
    for span in annotations:
        marker = content[span.start_index : span.end_index].strip("[]")
        if marker.isdigit() and span.url not in numbers:
            numbers[span.url] = int(marker)
    for field in basis:
        for citation in field.citations:
            if citation.url not in numbers:
                numbers[citation.url] = max(numbers.values(), default=0) + 1
    return numbers


class AnswerView:
    def __init__(self, out: Console, err: Console, *, hold_text: bool) -> None:
        self.out = out
        self.err = err
        # A JSON answer may be repaired after it streamed: only its final content is shown.
        self.hold_text = hold_text
        self.printed = ""
        self._status: Status | None = None

    async def show(self, events: AsyncIterator[ResearchEvent]) -> None:
        try:
            async for event in events:
                if isinstance(event, Progress):
                    self.progress(event)
                elif isinstance(event, TextDelta) and not self.hold_text:
                    self.text(event.text)
                elif isinstance(event, Basis):
                    self.finish(event)
        finally:
            self._stop_status()

    def progress(self, event: Progress) -> None:
        line = f"{event.stage}: {event.message}"
        if not self.err.is_terminal:
            self.err.print(Text(f"… {line}", style="dim"))
        elif self._status is None:
            self._status = self.err.status(Text(line), spinner="dots")
            self._status.start()
        else:
            self._status.update(Text(line))

    def text(self, text: str) -> None:
        self._stop_status()
        self.out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        self.printed += text

    def finish(self, event: Basis) -> None:
        self._stop_status()
        if self.hold_text:
            self.out.print(_pretty_json(event.content), markup=False, highlight=False, soft_wrap=True)
        elif event.content != self.printed:
            if event.content.startswith(self.printed):
                self.text(event.content[len(self.printed) :])
            else:
                self.out.print("\n[dim](revised after checking)[/dim]")
                self.out.print(event.content, markup=False, highlight=False, soft_wrap=True)
        self.out.print()
        self.sources(event)

    def sources(self, event: Basis) -> None:
        numbers = source_numbers(event.content, event.annotations, event.basis)
        fields = Table("field", "confidence", "sources", "reasoning", title="Basis", title_justify="left")
        for field in event.basis:
            cited = " ".join(f"[{numbers[c.url]}]" for c in field.citations)
            fields.add_row(Text(field.field), Text(field.confidence, style=CONFIDENCE_STYLE.get(field.confidence, "")),
                           Text(cited), Text(field.reasoning))
        self.out.print(fields)
        table = Table("#", "source", "excerpts", title="Sources", title_justify="left")
        seen: set[str] = set()
        for field in event.basis:
            for citation in field.citations:
                if citation.url in seen:
                    continue
                seen.add(citation.url)
                source = Text(citation.title or urlsplit(citation.url).netloc, style="bold")
                source.append("\n" + citation.url, style="cyan")
                excerpts = Text("\n".join(f"“{x}”" for x in citation.excerpts))
                table.add_row(str(numbers[citation.url]), source, excerpts)
        self.out.print(table)

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _pretty_json(content: str) -> str:
    try:
        return json.dumps(json.loads(content), indent=2, ensure_ascii=False)
    except ValueError:
        return content
