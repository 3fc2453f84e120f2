"""Concurrent `speed` streams against one real server: who is served, who is refused, how fast.

Starts a real server on a fresh home (embedded defaults, bundled SQuAD articles) and,
for each concurrency level, opens that many streaming chat requests at once. Admitted
requests are timed to their first content and to their end; refused ones (429/503)
to the refusal. The server's own overhead is the `overhead` stage of the timing it
sends in each stream's last chunk (total minus queue, search, reading and the model).
Peak RSS (the server and its model process) is sampled from /proc while the level runs.
Run: `.venv/bin/python -m bench.load [--levels 50 100 200]`; figures in bench/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import API_KEY, child_pids, percentile, squad_questions, start_server, write_result

STREAMS_PER_CLIENT = 10


@dataclasses.dataclass
class Outcome:
    status: int
    total: float  # seconds until the answer (or refusal) was complete
    first_content: float | None = None
    overhead: float | None = None
    error: str | None = None


async def one_stream(client: httpx.AsyncClient, question: str, model: str) -> Outcome:
    body = {"model": model, "messages": [{"role": "user", "content": question}], "stream": True}
    started = time.perf_counter()
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                return Outcome(response.status_code, time.perf_counter() - started)
            outcome = Outcome(200, 0.0)
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    outcome.error = chunk["error"].get("code") or "error"
                    continue
                delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
                if delta.get("content") and outcome.first_content is None:
                    outcome.first_content = time.perf_counter() - started
                if "timing" in chunk:
                    outcome.overhead = chunk["timing"].get("overhead")
            outcome.total = time.perf_counter() - started
            return outcome
    except httpx.HTTPError as exc:
        return Outcome(0, time.perf_counter() - started, error=type(exc).__name__)


def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and its children (the embedded model runs in one)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # gone meanwhile
        return 0
    own = next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:")), 0)
    return own + sum(rss_bytes(child) for child in child_pids(pid))


async def run_level(base_url: str, pid: int, concurrency: int, questions: list[str], model: str) -> dict[str, Any]:
    peak = rss_bytes(pid)
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            await asyncio.sleep(0.1)

    # A few streams per client: httpcore's pool scans all its connections for every
    # request, so one pool of 200 made the client, not the server, the bottleneck.
    limits = httpx.Limits(max_connections=STREAMS_PER_CLIENT, max_keepalive_connections=STREAMS_PER_CLIENT)
    headers = {"authorization": f"Bearer {API_KEY}"}
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=600)
            )
            for _ in range(0, concurrency, STREAMS_PER_CLIENT)
        ]
        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(
                one_stream(clients[i // STREAMS_PER_CLIENT], questions[i % len(questions)], model)
                for i in range(concurrency)
            )
        )
        wall = time.perf_counter() - started
        done.set()
        await sampler
    return summarise(concurrency, outcomes, wall, peak)


def _ms(values: list[float], q: float) -> float | None:
    return round(percentile(values, q) * 1000, 1) if values else None


def summarise(concurrency: int, outcomes: list[Outcome], wall: float, peak_rss: int) -> dict[str, Any]:
    completed = [o for o in outcomes if o.status == 200 and o.error is None]
    refused = [o for o in outcomes if o.status in (429, 503)]
    failed = [o for o in outcomes if o not in completed and o not in refused]
    first = [o.first_content for o in completed if o.first_content is not None]
    totals = [o.total for o in completed]
    overhead = [o.overhead for o in completed if o.overhead is not None]
    return {
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "completed_share": round(len(completed) / concurrency, 3),
        "refused_share": round(len(refused) / concurrency, 3),
        "failed": dict(collections.Counter(str(o.error or o.status) for o in failed)),
        "refusal_p50_ms": _ms([o.total for o in refused], 50),
        "refusal_max_ms": round(max(o.total for o in refused) * 1000, 1) if refused else None,
        "first_content_p50_ms": _ms(first, 50),
        "first_content_p99_ms": _ms(first, 99),
        "total_p50_ms": _ms(totals, 50),
        "total_p99_ms": _ms(totals, 99),
        "longest_wait_s": round(max(o.total for o in outcomes), 2),
        "overhead_p50_ms": _ms(overhead, 50),
        "overhead_p99_ms": _ms(overhead, 99),
        "peak_rss_mb": round(peak_rss / 2**20, 1),
    }


async def measure(levels: list[int], model: str, questions: list[str], settings: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home), **settings)
        try:
            pid = server.process.pid
            async with httpx.AsyncClient(base_url=server.base_url, headers={"authorization": f"Bearer {API_KEY}"}) as c:
                for warm in questions[:2]:  # first requests pay one-off costs (page cache, allocator)
                    await one_stream(c, warm, model)
            idle_rss = rss_bytes(pid)
            results = [await run_level(server.base_url, pid, n, questions, model) for n in levels]
        finally:
            server.stop()
    return {"idle_rss_mb": round(idle_rss / 2**20, 1), "levels": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--model", default="speed")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--note", default="", help="what this run is (machine, scale)")
    args = parser.parse_args()
    # The server's back-pressure settings are its defaults; DEEPCITE_* in the environment change them.
    questions = [q.question for q in squad_questions(args.questions)]
    settings = {"rate_limit": "100000/minute"}  # the per-key limit is not what is measured here
    figures = asyncio.run(measure(args.levels, args.model, questions, settings))
    figures = {
        "model": args.model,
        "note": args.note,
        **figures,
        "targets": "refusals < 1 s; admitted first content p99 < 2 s; overhead p50 < 10 ms; "
        "no wait longer than the request deadline",
    }
    print(json.dumps(figures, indent=2))
    print(f"written to {write_result('load', figures)}")


if __name__ == "__main__":
    main()
