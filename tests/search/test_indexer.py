import gzip
import json
from pathlib import Path

import httpx
from bench.harness import free_port
from search_pages import Site, article_html
from tests.support.pdf import make_pdf

from deepcite.search.indexer import IndexProgress, index_sources, seed_sample_corpus
from deepcite.search.local_index import LocalIndex

TERNS = "Arctic terns fly from their Arctic breeding grounds to the Antarctic and back every year."
PUFFINS = "Atlantic puffins spend the winter far out at sea and come ashore only to breed."
GANNETS = "Northern gannets plunge into the sea from thirty metres to catch mackerel and herring."


def _write_folder(root: Path) -> None:
    (root / "nested").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "terns.html").write_text(article_html("Arctic Terns", [TERNS]))
    (root / "puffins.md").write_text(f"# Puffins\n\n{PUFFINS}\n")
    (root / "nested" / "gannets.txt").write_text(GANNETS)
    (root / "survey.pdf").write_bytes(make_pdf("The tern colony counted 1250 breeding pairs.", "Tern Survey"))
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / ".hidden" / "secret.txt").write_text("Never index dot folders.")


async def test_a_folder_is_indexed_recursively_and_incrementally(index: LocalIndex, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    _write_folder(folder)
    events: list[IndexProgress] = []

    report = await index_sources(index, [str(folder)], on_progress=events.append)

    assert (report.added, report.updated, report.unchanged, report.failed) == (4, 0, 0, 0)
    assert events[0] == IndexProgress(done=0, total=4, current="", outcome=None)
    assert [e.done for e in events[1:]] == [1, 2, 3, 4] and {e.outcome for e in events[1:]} == {"added"}

    terns = await index.page((folder / "terns.html").resolve().as_uri())
    assert terns is not None and terns.title == "Arctic Terns" and TERNS in terns.text
    for boilerplate in ("Subscribe", "Copyright", "Shop", "trackVisitor"):
        assert boilerplate not in terns.text
    [hit] = await index.search("puffins winter", limit=1)
    assert (hit.title, hit.url) == ("Puffins", (folder / "puffins.md").resolve().as_uri())
    [hit] = await index.search("breeding pairs colony", limit=1)
    assert hit.title == "Tern Survey" and "1250 breeding pairs" in hit.text
    assert await index.search("never index dot folders", limit=1) == []

    (folder / "nested" / "gannets.txt").write_text(GANNETS + " They nest on Bass Rock.")
    report = await index_sources(index, [str(folder)])
    assert (report.added, report.updated, report.unchanged, report.failed) == (0, 1, 3, 0)
    assert await index.search("Bass Rock", limit=1)


async def test_bad_paths_are_reported_not_raised(index: LocalIndex, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "good.txt").write_text(TERNS)
    sources = [str(tmp_path / name) for name in ("missing.html", "photo.png", "empty.txt", "broken.pdf", "good.txt")]

    report = await index_sources(index, sources)

    assert (report.added, report.failed) == (1, 4)
    messages = {Path(f.where).name: f.message for f in report.failures}
    assert messages["missing.html"] == "no such file or folder"
    assert messages["photo.png"].startswith("unsupported file type")
    assert messages["empty.txt"] == "no readable text"
    assert "broken.pdf" in messages


async def test_jsonl_records_and_their_errors(index: LocalIndex, tmp_path: Path) -> None:
    lines = [
        json.dumps({"url": "https://example.org/terns", "title": "Terns", "text": TERNS}),
        "",
        json.dumps({"url": "https://example.org/puffins", "text": PUFFINS}),
        "{not json",
        json.dumps({"url": "https://example.org/empty", "title": "Empty", "text": ""}),
        json.dumps(["not", "an", "object"]),
    ]
    plain = tmp_path / "pages.jsonl"
    plain.write_text("\n".join(lines) + "\n")
    packed = tmp_path / "more.jsonl.gz"
    with gzip.open(packed, "wt") as out:
        out.write(json.dumps({"url": "https://example.org/gannets", "title": "Gannets", "text": GANNETS}) + "\n")

    report = await index_sources(index, [str(plain), str(packed)])

    assert (report.added, report.failed) == (3, 3)
    assert sorted(f.where for f in report.failures) == [f"{plain}:4", f"{plain}:5", f"{plain}:6"]
    page = await index.page("https://example.org/puffins")
    assert page is not None and page.title == "https://example.org/puffins" and page.text == PUFFINS
    assert (await index.search("mackerel", limit=1))[0].title == "Gannets"


async def test_urls_and_sitemaps_are_fetched(index: LocalIndex, site: Site) -> None:
    terns = site.add("/birds/terns", article_html("Arctic Terns", [TERNS]))
    puffins = site.add("/birds/puffins.txt", PUFFINS, "text/plain; charset=utf-8")
    survey = site.add("/survey.pdf", make_pdf("Gannet numbers rose by a tenth.", "Gannet Survey"), "application/pdf")
    site.redirect("/old/gannets", "/birds/gannets")
    gannets = site.add("/birds/gannets", article_html("Northern Gannets", [GANNETS]))
    site.add("/image.png", b"\x89PNG\r\n\x1a\n", "image/png")
    urlset = "".join(f"<url><loc>{u}</loc></url>" for u in (terns, puffins, survey, site.url("/missing"), terns))
    site.add(
        "/sitemap-birds.xml",
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urlset}</urlset>',
        "application/xml",
    )
    site.add(
        "/sitemap.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/sitemap-birds.xml')}</loc></sitemap></sitemapindex>",
        "text/xml",
    )

    async with httpx.AsyncClient(timeout=5) as http:
        report = await index_sources(
            index, [site.url("/sitemap.xml"), site.url("/old/gannets"), site.url("/image.png")], http=http
        )

    assert (report.added, report.failed) == (4, 2)
    assert {f.where: f.message for f in report.failures} == {
        site.url("/missing"): "HTTP 404",
        site.url("/image.png"): "unsupported content type 'image/png' at " + site.url("/image.png"),
    }
    page = await index.page(gannets)  # indexed under the URL the redirect led to
    assert page is not None and page.title == "Northern Gannets" and "Copyright" not in page.text
    assert (await index.search("puffins winter", limit=1))[0].url == puffins
    assert (await index.search("gannet numbers", limit=1))[0].title == "Gannet Survey"

    again = await index_sources(index, [site.url("/sitemap.xml")])
    assert (again.added, again.updated, again.unchanged, again.failed) == (0, 0, 3, 1)


async def test_an_unreachable_url_is_a_failure(index: LocalIndex) -> None:
    url = f"http://127.0.0.1:{free_port()}/"  # a port that was free a moment ago: nothing listens there
    report = await index_sources(index, [url])
    assert report.failed == 1 and report.failures[0].where == url
    assert report.failures[0].message.startswith("ConnectError")


async def test_seed_sample_corpus_fills_only_an_empty_index(index: LocalIndex) -> None:
    report = await seed_sample_corpus(index)
    assert report is not None and (report.added, report.failed) == (48, 0)
    assert await seed_sample_corpus(index) is None
    assert (await index.stats())[0] == 48
