"""Time to first token of the `speed` model on embedded defaults, over SQuAD questions.

Starts a real server on a fresh home (seeded with the bundled SQuAD articles), streams
each question through the official openai SDK and measures when the first content
arrives. Also reports answer accuracy and evidence recall of the same answers.
Run: `.venv/bin/python -m bench.speed_ttft [--questions 60]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.harness import percentile, squad_questions, start_server, write_result
from deepcite.research.text import normalize_answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--model", default="speed")
    args = parser.parse_args()
    questions = squad_questions(args.questions)
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home))
        try:
            client = server.client(timeout=60)
            for warm in questions[:2]:  # first requests pay one-off costs (page cache, allocator)
                client.chat.completions.create(model=args.model, messages=[{"role": "user", "content": warm.question}])
            ttft, total, correct, recalled = [], [], 0, 0
            for q in questions:
                started = time.perf_counter()
                first = None
                text = ""
                basis = []
                stream = client.chat.completions.create(
                    model=args.model, messages=[{"role": "user", "content": q.question}], stream=True
                )
                for chunk in stream:
                    delta = chunk.choices[0].delta.content if chunk.choices else None
                    if delta and first is None:
                        first = time.perf_counter() - started
                    text += delta or ""
                    basis = (chunk.model_extra or {}).get("basis") or basis
                total.append(time.perf_counter() - started)
                ttft.append(first if first is not None else total[-1])
                correct += any(normalize_answer(a) in normalize_answer(text) for a in q.answers)
                cited = {c["title"] for field in basis for c in field["citations"]}
                recalled += q.title in cited
        finally:
            server.stop()
    n = len(questions)
    figures = {
        "model": args.model,
        "questions": n,
        "ttft_p50_s": round(statistics.median(ttft), 3),
        "ttft_p95_s": round(percentile(ttft, 95), 3),
        "total_p50_s": round(statistics.median(total), 3),
        "total_p95_s": round(percentile(total, 95), 3),
        "answer_accuracy": round(correct / n, 3),
        "evidence_recall": round(recalled / n, 3),
        "target": "ttft p50 < 1.0 s on 2 CPU cores",
    }
    for key, value in figures.items():
        print(f"{key:>18}: {value}")
    print(f"written to {write_result(f'{args.model}_ttft', figures)}")


if __name__ == "__main__":
    main()
