import pytest
from tests.support.pdf import make_pdf

from deepcite.errors import FetchError
from deepcite.fetch.extract import extract_page, parse_content_type

ARTICLE = [
    "Arctic terns fly from their Arctic breeding grounds to the Antarctic and back every year.",
    "Because they see two summers each year, they experience more daylight than any other animal.",
]
PAGE = f"""<!DOCTYPE html><html><head><title>Arctic Terns | Bird Facts</title>
<script>function trackVisitor() {{ return document.cookie; }}</script></head>
<body><header><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav></header>
<aside><p>Subscribe to our newsletter for weekly bird facts!</p></aside>
<main><article><h1>Arctic Terns</h1><p>{ARTICLE[0]}</p><p>{ARTICLE[1]}</p></article></main>
<footer><p>Copyright 2024 Bird Facts Media. All rights reserved.</p></footer></body></html>"""


def test_html_keeps_the_article_and_drops_the_boilerplate() -> None:
    page = extract_page(PAGE.encode(), "text/html; charset=utf-8", "https://example.org/terns")
    assert page.title == "Arctic Terns"
    assert page.text == "\n\n".join(["Arctic Terns", *ARTICLE])
    for boilerplate in ("Home", "Subscribe", "Copyright", "trackVisitor"):
        assert boilerplate not in page.text


def test_html_charset_from_the_header_or_the_page() -> None:
    latin1 = "<html><head><title>Café</title></head><body><p>Crème brûlée à la carte, naïve.</p></body></html>"
    page = extract_page(latin1.encode("latin-1"), "text/html; charset=ISO-8859-1", "https://example.org/")
    assert page.title == "Café" and "Crème brûlée à la carte, naïve." in page.text
    declared = latin1.replace("<head>", '<head><meta charset="iso-8859-1">')
    page = extract_page(declared.encode("latin-1"), "text/html", "https://example.org/")
    assert "Crème brûlée" in page.text


def test_html_without_main_content_falls_back_to_its_visible_text() -> None:
    markup = (
        b"<html><head><title>Contact</title><style>p {}</style></head><body><footer>Call 555-0100.</footer></body></html>"
    )
    page = extract_page(markup, "text/html", "https://example.org/contact")
    assert page == extract_page(markup, "application/xhtml+xml", "https://example.org/contact")
    assert (page.title, page.text) == ("Contact", "Call 555-0100.")


def test_pdf_text_and_title() -> None:
    body = make_pdf("The tern colony counted 1,250 breeding pairs in 2023.", "Tern Survey Report")
    page = extract_page(body, "application/pdf", "https://example.org/survey.pdf")
    assert page.title == "Tern Survey Report"
    assert "The tern colony counted 1,250 breeding pairs in 2023." in page.text


def test_a_broken_pdf_is_a_fetch_error() -> None:
    with pytest.raises(FetchError):
        extract_page(b"%PDF-1.4\nnot really", "application/pdf", "https://example.org/broken.pdf")


def test_markdown_title_from_its_first_heading_and_text_verbatim() -> None:
    body = "Intro line\r\n\r\n## Puffins ##\r\n\r\nPuffins — “sea parrots” — dive for sand eels.\r\n"
    page = extract_page(body.encode(), "text/markdown", "https://example.org/notes/puffins.md")
    assert page.title == "Puffins"
    assert page.text == "Intro line\n\n## Puffins ##\n\nPuffins — “sea parrots” — dive for sand eels."


def test_plain_text_honours_its_charset_and_titles_from_the_url() -> None:
    body = "Gannets dive at 100 km/h. Ça va.".encode("utf-16")
    page = extract_page(body, "text/plain; charset=utf-16", "https://example.org/field_notes-2024.txt")
    assert page.text == "Gannets dive at 100 km/h. Ça va."
    assert page.title == "field notes 2024"


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", "", "text/csv; charset=x"])
def test_unsupported_types_raise_fetch_error(content_type: str) -> None:
    with pytest.raises(FetchError):
        extract_page(b"\x89PNG\r\n\x1a\n", content_type, "https://example.org/photo.png")


def test_parse_content_type() -> None:
    assert parse_content_type('Text/HTML; Charset="UTF-8"') == ("text/html", "utf-8")
    assert parse_content_type("text/plain; charset=bogus") == ("text/plain", None)
    assert parse_content_type("") == ("application/octet-stream", None)
