"""Answer quality as a user sees it: short answers scored EM/F1, first sentences, pages cited, abstention.

Two real `deepcite serve` processes: one on the bundled corpus (the 48 SQuAD articles),
one on the pooled HotpotQA corpus (14,766 Wikipedia paragraphs, indexed with the real
CLI). Every question is asked through the official openai SDK, twice per model:
- with `response_format` `{"answer": string}`: the short answer, scored with the official
  SQuAD/HotpotQA normalisation (EM, token F1);
- as text: whether the first sentence holds the gold answer and is at most 30 words, and
  (HotpotQA) whether both supporting pages are among the cited sources.
Out-of-corpus questions (bench/data/out_of_corpus.txt) should come back rated `low`.
In the same run, side by side: a naive baseline (BM25 top-k passages of the same index
into the same model, one short-answer prompt, as a stock LlamaIndex pipeline does) and
the previous small model (SmolLM2-135M) behind the same server.

Samples are fixed and split: the `tune` half of each data set is for tuning, the `report`
half (default) for the figures, so a figure never counts the questions it was tuned on.
Run: `.venv/bin/python -m bench.answer_quality [--squad 40] [--hotpot 30] [--ooc 20] [--part report]`;
a run of some models only names its own result file (`--result`), so the full report stays.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from bench.harness import ROOT, RunningServer, percentile, run_cli, start_server, write_result
from deepcite.research.text import normalize_answer, split_sentences

SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
HOTPOT = ROOT.parent / "shared" / "data" / "hotpotqa"
OUT_OF_CORPUS = ROOT / "bench" / "data" / "out_of_corpus.txt"
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
FIRST_SENTENCE_WORDS = 30
TARGETS = {
    "squad_f1": {"lite": 0.70},
    "hotpot_f1": {"core": 0.50},
    "both_pages_cited": {"base": 0.85, "core": 0.92},
    "out_of_corpus_low": {"*": 0.95},
    "latency_p50_s": {"lite": 5.0, "base": 10.0, "core": 30.0},
}
MARKER = re.compile(r"\s*\[\d+\]")


Question = dict[str, Any]  # {"question", "answers", "supporting_urls"?}


def token_f1(prediction: str, gold: str) -> float:
    predicted, wanted = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(wanted)).values())
    if not common:
        return float(predicted == wanted)
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def half(pool: list[Any], part: str, count: int) -> list[Any]:
    """`count` items of the tune or report half of `pool`, in a fixed shuffled order."""
    shuffled = pool[:]
    random.Random(0).shuffle(shuffled)
    middle = len(shuffled) // 2
    chosen = shuffled[:middle] if part == "tune" else shuffled[middle:]
    return chosen[:count]


def squad_sample(part: str, count: int) -> list[Question]:
    pool = []
    for article in json.loads(SQUAD.read_text())["data"]:
        for paragraph in article["paragraphs"]:
            qa = paragraph["qas"][0]  # one question per paragraph: no article dominates
            pool.append({"question": qa["question"].strip(), "answers": [a["text"] for a in qa["answers"]]})
    return half(pool, part, count)


def hotpot_sample(part: str, count: int) -> list[Question]:
    with gzip.open(HOTPOT / "questions.jsonl.gz", "rt") as lines:
        pool = [json.loads(line) for line in lines]
    return [
        {"question": q["question"], "answers": [q["answer"]], "supporting_urls": q["supporting_urls"]}
        for q in half(pool, part, count)
    ]


def ooc_sample(part: str, count: int) -> list[Question]:
    lines = [line.strip() for line in OUT_OF_CORPUS.read_text().splitlines() if line.strip()]
    middle = len(lines) // 2
    return [{"question": q, "answers": []} for q in (lines[:middle] if part == "tune" else lines[middle:])[:count]]


def first_sentence(content: str) -> str:
    text = MARKER.sub("", content).strip()
    spans = split_sentences(text)
    return text[spans[0][0] : spans[0][1]] if spans else text


def ask(client: openai.OpenAI, model: str, question: str, json_answer: bool) -> dict[str, Any]:
    started = time.monotonic()
    extra: dict[str, Any] = {}
    if json_answer:
        extra["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA}}
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], **extra
    )
    content = response.choices[0].message.content or ""
    basis = (response.model_extra or {}).get("basis") or []
    return {"content": content, "basis": basis, "seconds": time.monotonic() - started}


def score(questions: list[Question], answer: Callable[[str, bool], dict[str, Any]], *, texts: bool) -> dict[str, Any]:
    """Ask every question (JSON, then text) and compute the figures of one model on one data set."""
    ems, f1s, seconds, first_ok, both, rows = [], [], [], [], [], []
    by_level: dict[str, list[float]] = collections.defaultdict(list)
    for q in questions:
        got = answer(q["question"], True)
        seconds.append(got["seconds"])
        try:
            short = str(json.loads(got["content"]).get("answer", ""))
        except (ValueError, AttributeError):
            short = ""
        em = max((float(normalize_answer(short) == normalize_answer(a)) for a in q["answers"]), default=0.0)
        f1 = max((token_f1(short, a) for a in q["answers"]), default=0.0)
        ems.append(em)
        f1s.append(f1)
        level = next((b["confidence"] for b in got["basis"] if b.get("field") == "answer"), "none")
        by_level[level].append(f1)
        row: dict[str, Any] = {"question": q["question"], "gold": q["answers"][:1], "short": short, "f1": round(f1, 2)}
        if texts:
            text = answer(q["question"], False)
            seconds.append(text["seconds"])
            lead = first_sentence(text["content"])
            first_ok.append(
                len(lead.split()) <= FIRST_SENTENCE_WORDS
                and any(normalize_answer(a) in normalize_answer(lead) for a in q["answers"])
            )
            cited = {c["url"] for b in text["basis"] for c in b.get("citations", [])}
            if "supporting_urls" in q:
                both.append(all(url in cited for url in q["supporting_urls"]))
                row["both_pages_cited"] = both[-1]
            row.update(first_sentence=lead, text_confidence=(text["basis"] or [{}])[0].get("confidence"))
        rows.append(row)
        pages = "" if "both_pages_cited" not in row else (" both" if row["both_pages_cited"] else " MISS")
        print(f"  {f1:.2f} {got['seconds']:5.1f}s {level:6}{pages} | {q['question'][:70]} | {short[:40]!r}"
              f" | {q['answers'][:1]}", flush=True)
    figures: dict[str, Any] = {
        "questions": len(questions),
        "em": _mean(ems),
        "f1": _mean(f1s),
        "latency_p50_s": round(statistics.median(seconds), 2),
        "latency_p95_s": round(percentile(seconds, 95), 2),
        "f1_by_confidence": {k: {"answers": len(v), "f1": _mean(v)} for k, v in sorted(by_level.items())},
    }
    if first_ok:
        figures["first_sentence_answers"] = _mean([float(x) for x in first_ok])
    if both:
        figures["both_pages_cited"] = _mean([float(x) for x in both])
    figures["samples"] = rows[:6]
    return figures


def abstention(questions: list[Question], client: openai.OpenAI, model: str) -> dict[str, Any]:
    levels = [((ask(client, model, q["question"], False)["basis"] or [{}])[0].get("confidence")) for q in questions]
    return {"questions": len(levels), "rated_low": _mean([float(level == "low") for level in levels])}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


class NaiveBaseline:
    """BM25 top-k paragraphs of the same index into the same model, one short-answer prompt."""

    PROMPT = (
        "Context information is below.\n---------------------\n{context}\n---------------------\n"
        "Given the context information and not prior knowledge, answer the query with a short phrase.\n"
        "Query: {question}\nAnswer: "
    )

    def __init__(self, home: Path, model: str, top_k: int) -> None:
        from deepcite.llm.embedded import EmbeddedModel
        from deepcite.search.local_index import LocalIndex

        self.index = LocalIndex(home / "index.sqlite3")
        self.llm = EmbeddedModel(model=model)
        self.top_k = top_k

    def answer(self, question: str, json_answer: bool) -> dict[str, Any]:
        import asyncio

        from deepcite.llm.base import ChatMessage, GenerationOptions

        async def run() -> str:
            hits = await self.index.search(question, limit=self.top_k)
            context = "\n\n".join(h.text for h in hits)
            prompt = [ChatMessage("user", self.PROMPT.format(context=context, question=question))]
            said = ""
            async for piece in self.llm.stream(prompt, GenerationOptions(max_tokens=32, stop=("\n",))):
                said += piece
            return said.strip()

        started = time.monotonic()
        said = asyncio.run(run())
        return {"content": json.dumps({"answer": said}), "basis": [], "seconds": time.monotonic() - started}


def index_hotpot(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    corpus = home / "corpus.jsonl"
    with gzip.open(HOTPOT / "corpus.jsonl.gz", "rb") as source:
        corpus.write_bytes(source.read())
    run_cli(home, "index", str(corpus), timeout=1800, seed_sample_corpus="false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=int, default=40)
    parser.add_argument("--hotpot", type=int, default=30)
    parser.add_argument("--ooc", type=int, default=20)
    parser.add_argument("--part", choices=["report", "tune"], default="report")
    parser.add_argument("--models", nargs="+", default=["speed", "lite", "base", "core"])
    parser.add_argument("--hotpot-models", nargs="*", default=["lite", "base", "core"], help="none: skip HotpotQA")
    parser.add_argument("--llm", default="qwen2.5-coder-1.5b", help="embedded model under test")
    parser.add_argument("--previous-llm", default="smollm2-135m", help="compared side by side ('' to skip)")
    parser.add_argument("--home", type=Path, help="reuse this folder (indexes, joined model files)")
    parser.add_argument("--result", help="name of the file in bench/results (default: answer_quality[_tune])")
    args = parser.parse_args()

    base = args.home or Path(tempfile.mkdtemp(prefix="deepcite-answer-quality-"))
    squad_home, hotpot_home = base / "squad", base / "hotpot"
    if not (hotpot_home / "index.sqlite3").exists():
        print("indexing the HotpotQA corpus ...", flush=True)
        index_hotpot(hotpot_home)
    squad, hotpot, ooc = (squad_sample(args.part, args.squad), hotpot_sample(args.part, args.hotpot),
                          ooc_sample(args.part, args.ooc))
    results: dict[str, Any] = {"part": args.part, "llm": args.llm, "squad": {}, "hotpot": {}, "out_of_corpus": {}}

    def served(home: Path, llm: str) -> RunningServer:
        return start_server(home, timeout=600, llm_embedded=llm)

    for name, home, questions, models in (("squad", squad_home, squad, args.models),
                                          ("hotpot", hotpot_home, hotpot, args.hotpot_models)):
        if not models:
            continue
        server = served(home, args.llm)
        try:
            client = server.client(timeout=300)
            for model in models:
                print(f"{name} {model}", flush=True)
                results[name][model] = score(questions, lambda q, j, m=model, c=client: ask(c, m, q, j), texts=True)
            if name == "squad":
                for model in models:
                    results["out_of_corpus"][model] = abstention(ooc, client, model)
        finally:
            server.stop()
        baseline = NaiveBaseline(home, args.llm, top_k=3 if name == "squad" else 5)
        print(f"{name} naive baseline", flush=True)
        results[name]["naive_bm25_baseline"] = score(questions, baseline.answer, texts=False)
        if args.previous_llm:
            server = served(home, args.previous_llm)
            try:
                client = server.client(timeout=300)
                model = "lite" if name == "squad" else "core"
                print(f"{name} {model} with {args.previous_llm}", flush=True)
                results[name][f"{model}@{args.previous_llm}"] = score(
                    questions, lambda q, j, m=model, c=client: ask(c, m, q, j), texts=False
                )
            finally:
                server.stop()
    results["targets"] = TARGETS
    path = write_result(args.result or ("answer_quality" if args.part == "report" else "answer_quality_tune"), results)
    print(json.dumps({k: v for k, v in results.items() if k != "targets"}, indent=1, default=str)[:6000])
    print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
