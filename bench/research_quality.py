"""Research quality of each model over SQuAD served as a local web.

Serves the SQuAD articles as HTML pages with a sitemap on 127.0.0.1, indexes them
with the real `deepcite index` CLI into a fresh home (no sample corpus), starts a
real `deepcite serve` per model and asks each model SQuAD questions through the
official openai SDK, non-streaming. Per model it measures evidence recall (the answering
article is cited; stricter: a cited excerpt overlaps the answering paragraph),
answer accuracy, the share of excerpts that are verbatim in their page, JSON
schema validity, latency and the confidence levels given.
Run: `.venv/bin/python -m bench.research_quality [--questions 40] [--models lite base core speed]`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import openai

from bench.harness import SquadQuestion, percentile, run_cli, squad_questions, start_server, write_result
from bench.squad_site import SquadSite, display_title_of, serve_squad_site
from deepcite.fetch.extract import extract_page
from deepcite.research.text import normalize_answer

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "evidence": {"type": "array", "items": {"type": "string"}}},
    "required": ["answer", "evidence"],
    "additionalProperties": False,
}
TARGETS = {
    "evidence_recall": {"base": 0.95},
    "latency_p50_s": {"lite": 5.0, "base": 10.0, "core": 30.0},
}
CONFIDENCES = ("low", "medium", "high")
SAMPLES_KEPT = 4  # wrong answers kept per model in the result, to read them
WARM_UP_QUESTION = "Which university did Nikola Tesla attend?"

Span = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Answer:
    content: str
    basis: list[dict[str, Any]]
    seconds: float
    error: str | None = None

    def citations(self) -> list[dict[str, Any]]:
        return [c for field in self.basis for c in field.get("citations", [])]

    def confidence(self) -> str | None:
        return next((f.get("confidence") for f in self.basis if f.get("field") == "content"), None)


@dataclasses.dataclass
class ExtractedSite:
    """Each article's text as the indexer extracted it, and where its paragraphs lie in it."""

    texts: dict[str, str]  # display title -> page text

    def page_text(self, url: str) -> str | None:
        title = display_title_of(url)
        return None if title is None else self.texts.get(title)

    def paragraph_span(self, question: SquadQuestion) -> Span | None:
        return locate(question.context, self.texts.get(question.title, ""))


def locate(paragraph: str, text: str) -> Span | None:
    """Where the paragraph lies in the page text; extraction may have folded its whitespace."""
    start = text.find(paragraph)
    if start >= 0:
        return start, start + len(paragraph)
    match = re.search(r"\s+".join(re.escape(word) for word in paragraph.split()), text)
    return match.span() if match else None


def occurrences(excerpt: str, text: str) -> list[Span]:
    spans, start = [], text.find(excerpt)
    while excerpt and start >= 0:
        spans.append((start, start + len(excerpt)))
        start = text.find(excerpt, start + 1)
    return spans


def extract_site(site: SquadSite) -> ExtractedSite:
    """Fetch every page once and extract it exactly as `deepcite index` did."""
    texts = {}
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        for article in site.articles:
            response = http.get(site.url_of(article))
            response.raise_for_status()
            url = str(response.url)
            texts[article.display_title] = extract_page(response.content, response.headers["content-type"], url).text
    return ExtractedSite(texts)


def index_site(home: Path, site: SquadSite) -> dict[str, Any]:
    started = time.perf_counter()
    done = run_cli(home, "index", site.sitemap_url, fetch_allow_private="true", seed_sample_corpus="false")
    report = re.search(r"added (\d+), updated (\d+), unchanged (\d+), failed (\d+)", done.stdout)
    if report is None:
        raise RuntimeError(f"unexpected `deepcite index` output: {done.stdout}\n{done.stderr}")
    added, _, _, failed = (int(n) for n in report.groups())
    return {"pages": len(site.articles), "added": added, "failed": failed,
            "seconds": round(time.perf_counter() - started, 1)}


def ask(client: openai.OpenAI, model: str, question: str, schema: dict[str, Any] | None = None) -> Answer:
    extra: dict[str, Any] = {}
    if schema is not None:
        extra["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    started = time.perf_counter()
    try:
        completion = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": question}], **extra
        )
    except openai.APIError as exc:
        return Answer("", [], time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    basis = (completion.model_extra or {}).get("basis") or []
    return Answer(completion.choices[0].message.content or "", basis, seconds)


@dataclasses.dataclass
class ModelScore:
    model: str
    site: ExtractedSite
    asked: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    latencies: list[float] = dataclasses.field(default_factory=list)
    page_cited: int = 0
    paragraph_cited: int = 0
    correct: int = 0
    excerpts: int = 0
    verbatim: int = 0
    not_verbatim: list[dict[str, str]] = dataclasses.field(default_factory=list)
    confidence: Counter[str] = dataclasses.field(default_factory=Counter)
    correct_by_confidence: Counter[str] = dataclasses.field(default_factory=Counter)
    misses: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    json_asked: int = 0
    json_valid: int = 0
    json_latencies: list[float] = dataclasses.field(default_factory=list)
    json_failures: list[str] = dataclasses.field(default_factory=list)
    json_answers: list[str] = dataclasses.field(default_factory=list)

    def add_text(self, question: SquadQuestion, answer: Answer) -> bool:
        """Score one text answer; True when it holds a gold answer."""
        self.asked += 1
        if answer.error is not None:
            self.errors.append(answer.error)
            return False
        self.latencies.append(answer.seconds)
        self.check_excerpts(answer)
        cited = answer.citations()
        self.page_cited += any(display_title_of(c["url"]) == question.title for c in cited)
        self.paragraph_cited += self.cites_paragraph(question, cited)
        correct = any(normalize_answer(a) in normalize_answer(answer.content) for a in question.answers)
        self.correct += correct
        level = answer.confidence() or "none"
        self.confidence[level] += 1
        self.correct_by_confidence[level] += correct
        if not correct and len(self.misses) < SAMPLES_KEPT:
            self.misses.append({
                "question": question.question, "gold": question.answers[:3], "article": question.title,
                "content": answer.content[:400], "confidence": level,
                "cited": sorted({display_title_of(c["url"]) or c["url"] for c in cited}),
            })
        return correct

    def add_json(self, answer: Answer) -> None:
        self.json_asked += 1
        if answer.error is not None:
            self.json_failures.append(f"{answer.error} (after {answer.seconds:.1f} s)")
            return
        self.json_latencies.append(answer.seconds)
        self.json_answers.append(answer.content[:300])
        self.check_excerpts(answer)
        try:
            jsonschema.validate(json.loads(answer.content), ANSWER_SCHEMA)
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            self.json_failures.append(f"{type(exc).__name__}: {str(exc)[:200]} in {answer.content[:200]!r}")
            return
        self.json_valid += 1

    def check_excerpts(self, answer: Answer) -> None:
        for citation in answer.citations():
            text = self.site.page_text(citation["url"])
            for excerpt in citation.get("excerpts", []):
                self.excerpts += 1
                if text is not None and excerpt in text:
                    self.verbatim += 1
                elif len(self.not_verbatim) < SAMPLES_KEPT:
                    self.not_verbatim.append({"url": citation["url"], "excerpt": excerpt[:300]})

    def cites_paragraph(self, question: SquadQuestion, cited: list[dict[str, Any]]) -> bool:
        own = [c for c in cited if display_title_of(c["url"]) == question.title]
        excerpts = [e for c in own for e in c.get("excerpts", [])]
        span = self.site.paragraph_span(question)
        if span is None:  # extraction changed the paragraph's words: compare the words themselves
            paragraph = " ".join(question.context.split())
            return any(" ".join(e.split()) in paragraph for e in excerpts)
        text = self.site.texts[question.title]
        return any(s < span[1] and span[0] < e for excerpt in excerpts for s, e in occurrences(excerpt, text))

    def figures(self) -> dict[str, Any]:
        answered = max(1, self.asked - len(self.errors))
        return {
            "questions": self.asked,
            "errors": len(self.errors),
            "evidence_recall_page": _share(self.page_cited, answered),
            "evidence_recall_paragraph": _share(self.paragraph_cited, answered),
            "answer_accuracy": _share(self.correct, answered),
            "excerpts": self.excerpts,
            "excerpts_verbatim": _share(self.verbatim, self.excerpts),
            "json_valid": _share(self.json_valid, self.json_asked),
            "json_questions": self.json_asked,
            "latency_p50_s": _round(statistics.median(self.latencies)) if self.latencies else None,
            "latency_p95_s": _round(percentile(self.latencies, 95)) if self.latencies else None,
            "latency_max_s": _round(max(self.latencies)) if self.latencies else None,
            "request_seconds_total": _round(sum(self.latencies) + sum(self.json_latencies)),
            "json_latency_p50_s": _round(statistics.median(self.json_latencies)) if self.json_latencies else None,
            "json_latency_max_s": _round(max(self.json_latencies)) if self.json_latencies else None,
            "confidence": {level: self.confidence[level] for level in (*CONFIDENCES, "none") if self.confidence[level]},
            "accuracy_by_confidence": {
                level: _share(self.correct_by_confidence[level], self.confidence[level])
                for level in (*CONFIDENCES, "none") if self.confidence[level]
            },
            "error_samples": self.errors[:SAMPLES_KEPT],
            "json_failures": self.json_failures[:SAMPLES_KEPT],
            "json_answers": self.json_answers[:SAMPLES_KEPT],
            "not_verbatim_samples": self.not_verbatim,
            "wrong_answer_samples": self.misses,
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _round(seconds: float) -> float:
    return round(seconds, 2)


def run_models(clients: dict[str, openai.OpenAI], questions: list[SquadQuestion], json_questions: list[SquadQuestion],
               site: ExtractedSite, deadline: float) -> dict[str, ModelScore]:
    """Ask every model each question in turn, so that a run cut short by the deadline still
    compares the models on the same questions, under the same background load.

    Each model has a server of its own: a model asked second must not find the first one's
    passage embeddings and prompt prefix already in the caches."""
    scores = {model: ModelScore(model, site) for model in clients}
    # JSON first: its requests vary most in length, so the deadline is then only about the text rounds.
    for question in json_questions:
        for model, client in clients.items():
            answer = ask(client, model, question.question, ANSWER_SCHEMA)
            scores[model].add_json(answer)
            print(f"  json {model:5} {answer.seconds:5.1f} s  {answer.error or 'ok'}", file=sys.stderr, flush=True)
    rounds: list[float] = []
    for number, question in enumerate(questions, start=1):
        # Stop before a round would run past the deadline.
        if rounds and time.monotonic() + statistics.mean(rounds) > deadline:
            print(f"stopping after {number - 1} of {len(questions)} questions to keep within --minutes",
                  file=sys.stderr)
            break
        round_started = time.monotonic()
        for model, client in clients.items():
            answer = ask(client, model, question.question)
            correct = scores[model].add_text(question, answer)
            verdict = answer.error or ("correct" if correct else "wrong")
            print(f"  {number}/{len(questions)} {model:5} {answer.seconds:5.1f} s  {answer.confidence() or '-':6}  "
                  f"{verdict}", file=sys.stderr, flush=True)
        rounds.append(time.monotonic() - round_started)
    return scores


def target_notes(model: str, figures: dict[str, Any]) -> str:
    notes = []
    recall_target = TARGETS["evidence_recall"].get(model)
    if recall_target is not None:
        met = (figures["evidence_recall_page"] or 0) >= recall_target
        notes.append(f"recall ≥ {recall_target:.0%} {'met' if met else 'MISSED'}")
    latency_target = TARGETS["latency_p50_s"].get(model)
    if latency_target is not None:
        met = figures["latency_p50_s"] is not None and figures["latency_p50_s"] < latency_target
        notes.append(f"p50 < {latency_target:g} s {'met' if met else 'MISSED'}")
    return "; ".join(notes)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    header = (f"{'model':6} {'recall':>7} {'para':>6} {'acc':>5} {'verbat':>7} {'json':>5} {'p50 s':>6} {'p95 s':>6}  "
              f"{'conf l/m/h':>10} {'err':>3}  targets")
    print(header)
    print("-" * len(header))
    for model, f in results.items():
        conf = "/".join(str(f["confidence"].get(level, 0)) for level in CONFIDENCES)
        print(
            f"{model:6} {pct(f['evidence_recall_page']):>7} {pct(f['evidence_recall_paragraph']):>6} "
            f"{pct(f['answer_accuracy']):>5} {pct(f['excerpts_verbatim']):>7} {pct(f['json_valid']):>5} "
            f"{f['latency_p50_s'] or '-':>6} {f['latency_p95_s'] or '-':>6}  {conf:>10} {f['errors']:>3}  "
            f"{target_notes(model, f)}"
        )
    print("recall: answering article cited; para: a cited excerpt overlaps the answering paragraph; "
          "acc: a gold answer in the content; verbat: excerpts verbatim in their page (must be 100%); "
          "json: schema-valid JSON answers (must be 100%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=40, help="text questions per model")
    parser.add_argument("--json-questions", type=int, default=3, help="JSON-schema questions per model")
    parser.add_argument("--models", nargs="+", default=["lite", "base", "core", "speed"])
    parser.add_argument("--minutes", type=float, default=14.0,
                        help="stop asking new questions when the run would last longer than this")
    args = parser.parse_args()
    # JSON questions are others than the text ones, so no cache has seen them.
    sample = squad_questions(args.questions + args.json_questions)
    questions, json_questions = sample[:args.questions], sample[args.questions:]
    load_before = os.getloadavg()
    started = time.perf_counter()
    deadline = time.monotonic() + args.minutes * 60
    with serve_squad_site() as site, tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers:
        indexed = Path(tmp) / "indexed"
        indexing = index_site(indexed, site)
        print(f"indexed {indexing['added']} of {indexing['pages']} pages in {indexing['seconds']} s", file=sys.stderr)
        extracted = extract_site(site)
        unlocated = sum(extracted.paragraph_span(q) is None for q in sample)
        clients = {}
        for model in args.models:
            home = shutil.copytree(indexed, Path(tmp) / model)
            server = start_server(home, fetch_allow_private="true", seed_sample_corpus="false")
            servers.callback(server.stop)
            clients[model] = server.client(timeout=180)
            ask(clients[model], model, WARM_UP_QUESTION)  # one-off costs: model load, page cache
        scores = run_models(clients, questions, json_questions, extracted, deadline)
    results = {model: score.figures() for model, score in scores.items()}
    figures = {
        "questions_per_model": min(f["questions"] for f in results.values()),
        "questions_asked_for": args.questions,
        "json_questions_per_model": args.json_questions,
        "servers": "one `deepcite serve` per model, each on its own copy of the indexed home (no shared caches)",
        "corpus": "SQuAD v1.1 dev, 48 articles served as HTML on 127.0.0.1, indexed by `deepcite index` from a sitemap",
        "machine": f"{os.cpu_count()} CPU cores, shared with other work (load average before {load_before[0]:.2f}, "
                   f"after {os.getloadavg()[0]:.2f})",
        "indexing": indexing,
        "paragraphs_not_located_in_extracted_text": unlocated,
        "json_schema": ANSWER_SCHEMA,
        "targets": TARGETS,
        "wall_s": round(time.perf_counter() - started, 1),
        "models": results,
    }
    print_table(results)
    print(f"written to {write_result('research_quality', figures)}  ({figures['wall_s']} s in all)")


if __name__ == "__main__":
    main()
