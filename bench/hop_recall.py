"""Where multi-hop research loses a supporting page: read, put in the evidence, cited.

A diagnostic for `base`/`core` on HotpotQA that needs no generation: the research runs
in-process as the server builds it, and the gold answer stands in for the model's reading,
so a figure moves only with gathering, ranking and citing. For each question it records
whether both supporting pages were read, were among the evidence the model would see, and
were cited by the text answer written from that reading. It runs in about 1.5 s a
question, so a change to gathering can be measured on a whole half, not on 20 questions.

Run: `.venv/bin/python -m bench.hop_recall --home /tmp/bench_home [--part tune] [--start 0] [--count 100]`
(`--home`: the folder `bench.answer_quality` indexed the corpus in, reused when there).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

from bench.answer_quality import hotpot_sample, index_hotpot
from bench.harness import write_result
from deepcite.config import Settings
from deepcite.llm.base import ChatMessage, GenerationOptions
from deepcite.research.conversation import read_conversation
from deepcite.research.engine import ResearchEngine
from deepcite.research.events import Basis
from deepcite.research.gather import Findings
from deepcite.research.profiles import PROFILES
from deepcite.runtime import open_runtime


class GoldReader:
    """A chat model that always says the gold answer: the reading a perfect reader would give."""

    name = "gold"

    def __init__(self, count_tokens: Callable[[str], int]) -> None:
        self.answer = ""
        self.count_tokens = count_tokens

    async def stream(self, messages: list[ChatMessage], options: GenerationOptions) -> AsyncGenerator[str, None]:
        yield self.answer


async def measure(home: Path, questions: list[dict[str, Any]], model: str) -> dict[str, Any]:
    settings = Settings.load({}, {"home": home, "search": "local", "seed_sample_corpus": False})
    stages: dict[str, list[bool]] = collections.defaultdict(list)
    rows = []
    async with open_runtime(settings) as runtime:
        gold = GoldReader(runtime.llm.count_tokens)
        engine = ResearchEngine(runtime.engine.researcher, gold)
        profile = PROFILES[model]
        for q in questions:
            started = time.monotonic()
            gold.answer = q["answers"][0]
            conversation = read_conversation([ChatMessage("user", q["question"])])
            findings = Findings()
            async for _ in engine.researcher.gather(conversation, profile, findings):
                pass
            cited: set[str] = set()
            written = engine._write_text(conversation, profile, findings.evidence, findings.leads, engine.researcher)
            async for event in written:
                if isinstance(event, Basis):
                    cited = {c.url for b in event.basis for c in b.citations}
            wanted = q["supporting_urls"]
            row = {
                "read": all(u in findings.pages for u in wanted),
                "in_evidence": all(u in {e.url for e in findings.evidence} for u in wanted),
                "cited": all(u in cited for u in wanted),
            }
            for stage, ok in row.items():
                stages[stage].append(ok)
            marks = " ".join(stage if ok else "-" * len(stage) for stage, ok in row.items())
            print(f"  {marks} {time.monotonic() - started:4.1f}s | {q['question'][:90]}", flush=True)
            rows.append({"question": q["question"], **row})
    return {
        "questions": len(questions),
        **{stage: f"{sum(oks)}/{len(oks)}" for stage, oks in stages.items()},
        "misses": [r for r in rows if not r["cited"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--part", choices=["report", "tune"], default="tune")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=212)
    parser.add_argument("--model", default="base", choices=["lite", "base", "core"])
    parser.add_argument("--result", help="name of the file in bench/results (default: hop_recall_<part>)")
    args = parser.parse_args()
    home = args.home / "hotpot"
    if not (home / "index.sqlite3").exists():
        print("indexing the HotpotQA corpus ...", flush=True)
        index_hotpot(home)
    questions = hotpot_sample(args.part, args.start + args.count)[args.start :]
    figures = asyncio.run(measure(home, questions, args.model))
    figures.update(part=args.part, start=args.start, model=args.model)
    print({k: v for k, v in figures.items() if k != "misses"})
    write_result(args.result or f"hop_recall_{args.part}", figures)


if __name__ == "__main__":
    main()
