import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deepcite.search.base import SearchProvider
from deepcite.search.local_index import LocalIndex, fts_query

# SQuAD v1.1 dev questions and the article that answers them, with the answer.
SQUAD_QUESTIONS = [
    ("Which NFL team represented the AFC at Super Bowl 50?", "Super Bowl 50", "Denver Broncos"),
    ("What is the process of changing light into chemical energy?", "Chloroplast", "photosynthesis"),
    (
        "In what year did the Amazon experience a drought that may have been more extreme than in 2005?",
        "Amazon rainforest",
        "2010",
    ),
    (
        "What's the name of the green space north of the center of Newcastle?",
        "Newcastle upon Tyne",
        "Town Moor",
    ),
    ("What is the region called that is the largest conurbation of the Rhine?", "Rhine", "Rhine-Ruhr"),
    (
        "What typically involves mass production of similar items without a designated purchaser?",
        "Construction",
        "manufacturing",
    ),
]

ODD_QUERIES = [
    "",
    "   ",
    '"',
    '"unbalanced quote',
    "AND",
    "OR NOT AND",
    "*",
    "super*",
    "NEAR(tesla edison)",
    "title:warsaw",
    "^rhine",
    "(((",
    "c++ -java",
    "'; DROP TABLE documents; --",
    "the of and",
    "ünïcödé naïve café",
    "Tesla" * 200,
    " ".join(f"word{i}" for i in range(500)),
]


@pytest.fixture
async def sample_index(sample_index_path: Path) -> AsyncIterator[LocalIndex]:
    index = await LocalIndex.open(sample_index_path)
    yield index
    index.close()


def test_is_a_search_provider(index: LocalIndex) -> None:
    provider: SearchProvider = index
    assert provider.name == "local"


@pytest.mark.parametrize(("question", "title", "answer"), SQUAD_QUESTIONS)
async def test_squad_questions_find_their_article(sample_index: LocalIndex, question: str, title: str, answer: str) -> None:
    hits = await sample_index.search(question, limit=5)
    assert hits[0].title == title
    assert hits[0].url == "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
    assert any(answer in hit.text for hit in hits)


async def test_hits_quote_their_page_verbatim_best_first(sample_index: LocalIndex) -> None:
    hits = await sample_index.search("Nikola Tesla alternating current induction motor", limit=10)
    assert len(hits) == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        assert hit.provider == "local" and hit.passage_id is not None
        assert hit.page_text is not None and hit.text in hit.page_text
        page = await sample_index.page(hit.url)
        assert page is not None and page.text == hit.page_text and page.title == hit.title


async def test_stats_and_emptiness(sample_index: LocalIndex, index: LocalIndex) -> None:
    documents, passages = await sample_index.stats()
    assert documents == 48 and passages > 2000
    assert not await sample_index.is_empty()
    assert await index.is_empty() and await index.stats() == (0, 0)


@pytest.mark.parametrize("query", ODD_QUERIES)
async def test_odd_queries_never_raise(sample_index: LocalIndex, query: str) -> None:
    hits = await sample_index.search(query, limit=5)
    assert isinstance(hits, list)


def test_fts_query_quotes_terms_and_drops_stopwords() -> None:
    assert fts_query('What is "NEAR" AND c++?') == '"near" OR "c"'
    assert fts_query("the of") == '"the" OR "of"'
    assert fts_query("?!") == ""


async def test_a_quoted_phrase_finds_the_page_that_has_it_even_of_stopwords(tmp_path: Path) -> None:
    # "For Against" is a band whose name is two stopwords: searched by words, only "polar" is left.
    pages = {
        "for-against": ("For Against", "For Against is a post-punk band from Lincoln, Nebraska."),
        **{f"bear-{i}": (f"Polar bear {i}", "The polar bear hunts seals; a polar bear is a marine mammal.")
           for i in range(6)},
    }
    async with LocalIndex(tmp_path / "index.sqlite3") as index:
        for url, (title, text) in pages.items():
            await index.upsert(url, title, text, "test")
        assert fts_query('"For Against" united states') == '"for against" OR "united" OR "states"'
        assert [h.url for h in await index.search('"For Against" polar', limit=1)] == ["for-against"]
        assert fts_query('"' + "long " * 20 + '"') == '"long"'


async def test_a_quoted_name_leads_to_the_pages_it_titles(tmp_path: Path) -> None:
    # HotpotQA tune q171: "Dinosaur (film)" ranked below every fossil's page by BM25.
    pages = {
        **{f"fossil-{i}": (f"Fossil {i}", "A dinosaur fossil; the dinosaur was a herbivorous dinosaur.") for i in range(6)},
        "film": ("Dinosaur (film)", "Dinosaur is a 2000 American computer-animated film. It opened in May."),
    }
    async with LocalIndex(tmp_path / "index.sqlite3") as index:
        for url, (title, text) in pages.items():
            await index.upsert(url, title, text, "test")
        hits = await index.search('"dinosaur" came out first', limit=3)
        assert hits[0].url == "film" and hits[0].text.startswith("Dinosaur is a 2000")
        assert len(hits) == 3 and len({h.passage_id for h in hits}) == 3
        assert (await index.search("dinosaur came out first", limit=1))[0].url != "film"


async def test_search_is_fast(sample_index: LocalIndex) -> None:
    questions = [q for q, _, _ in SQUAD_QUESTIONS] * 5
    started = time.perf_counter()
    for question in questions:
        await sample_index.search(question, limit=10)
    per_query = (time.perf_counter() - started) / len(questions)
    assert per_query < 0.05, f"{per_query * 1000:.1f} ms per query"


async def test_concurrent_searches_share_the_connection(sample_index: LocalIndex) -> None:
    results = await asyncio.gather(*(sample_index.search(q, limit=3) for q, _, _ in SQUAD_QUESTIONS * 4))
    assert [r[0].title for r in results] == [t for _, t, _ in SQUAD_QUESTIONS * 4]


async def test_upsert_is_incremental(index: LocalIndex) -> None:
    url = "https://example.org/terns"
    text = "Arctic terns migrate from the Arctic to the Antarctic every year."
    assert await index.upsert(url, "Terns", text, "test") == "added"
    assert await index.upsert(url, "Terns", text, "test") == "unchanged"
    assert await index.stats() == (1, 1)

    new_text = "Puffins dive for sand eels near the cliffs of the island."
    assert await index.upsert(url, "Puffins", new_text, "test") == "updated"
    assert await index.stats() == (1, 1)
    assert await index.search("terns Antarctic", limit=5) == []
    [hit] = await index.search("sand eels", limit=5)
    assert (hit.url, hit.title, hit.text) == (url, "Puffins", new_text)
    # The old title was forgotten too, not only the old text.
    assert await index.search("Terns", limit=5) == []


async def test_remove(index: LocalIndex) -> None:
    await index.upsert("https://example.org/a", "A", "Gannets plunge into the sea.", "test")
    assert await index.remove("https://example.org/a") is True
    assert await index.remove("https://example.org/a") is False
    assert await index.page("https://example.org/a") is None
    assert await index.search("gannets", limit=5) == []
    assert await index.is_empty()


async def test_title_matches_weigh_more_than_text_matches(index: LocalIndex) -> None:
    await index.upsert("https://example.org/kittiwake", "Kittiwake", "A gull that nests on cliffs.", "test")
    await index.upsert("https://example.org/cliffs", "Sea cliffs", "Cliffs where a kittiwake nests.", "test")
    hits = await index.search("kittiwake", limit=5)
    assert [h.url for h in hits] == ["https://example.org/kittiwake", "https://example.org/cliffs"]


async def test_the_index_persists_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "index.sqlite3"
    async with await LocalIndex.open(path) as index:
        await index.upsert("https://example.org/p", "Petrels", "Storm petrels feed at night.", "test")
    reopened = LocalIndex(path)
    try:
        assert (await reopened.search("petrels", limit=1))[0].title == "Petrels"
    finally:
        reopened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT source FROM documents").fetchone() == ("test",)
