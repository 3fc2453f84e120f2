"""Build the bundled sample corpus from the SQuAD v1.1 dev set.

    python scripts/build_sample_corpus.py /work/shared/data/squad/dev-v1.1.json

writes `src/deepcite/data/sample_corpus.jsonl.gz`: one line per article,
`{"url", "title", "text"}`, the article's paragraphs joined by blank lines, so
every SQuAD answer is verbatim in the text of its page. The gzip header holds
no time stamp, so the same input always gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from urllib.parse import quote

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "src" / "deepcite" / "data" / "sample_corpus.jsonl.gz"


def article_records(squad: dict[str, object]) -> list[dict[str, str]]:
    records = []
    for article in squad["data"]:  # type: ignore[attr-defined]
        title: str = article["title"]
        records.append(
            {
                "url": "https://en.wikipedia.org/wiki/" + quote(title, safe="_(),'-.:"),
                "title": title.replace("_", " "),
                "text": "\n\n".join(paragraph["context"] for paragraph in article["paragraphs"]),
            }
        )
    return records


def write_corpus(records: list[dict[str, str]], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for record in records:
            gz.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad_json", type=Path, help="path to SQuAD's dev-v1.1.json")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    records = article_records(json.loads(args.squad_json.read_text(encoding="utf-8")))
    write_corpus(records, args.output)
    print(f"wrote {len(records)} articles to {args.output} ({args.output.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
