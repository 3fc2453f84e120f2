"""Pages linked by their titles, as hyperlinks would link them.

An indexed corpus has no hyperlinks, but a passage that names another page's title word
for word ("starring Shirley Temple") points to that page as a link would. Multi-hop
research follows such links, and the answer cites the page that led to the answer's.
"""

from __future__ import annotations

import functools
import html
import re

from deepcite.research.text import content_words, normalize_name

_PARENTHETICAL = re.compile(r"\s*\([^)]*\)\s*$")
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")
# A monarch's title: "Henry III of France" is the page a text means by "Henry III".
_REGNAL = re.compile(r"^(.+?\s[IVXLC]+)\s+of\s+\S.*$")
# A football club's title ends in its initials: "Salford City F.C." is the page a text means
# by "Salford City".
_CLUB = re.compile(r"^(.+?)\s+(?:[A-Z]\.)*F\.C\.$")
# Words a text uses for the kind a disambiguation names: the page "Front Row (software)"
# is the one "the Front Row media program" means.
_KIND_WORDS = {
    "software": {"program", "programme", "application", "app"},
    "film": {"movie"},
    "band": {"group"},
    "series": {"show", "programme", "sitcom"},
    "novel": {"book"},
    "magazine": {"journal", "periodical"},
    "album": {"record"},
    "song": {"single", "track"},
    "company": {"firm", "corporation", "business"},
    "footballer": {"football", "soccer"},
    "musician": {"singer", "songwriter", "guitarist", "rapper", "composer"},
}


def title_names(title: str, entity: str) -> bool:
    """Whether the page titled `title` is the page about `entity` ("Kiss and Tell (1945 film)"
    is about "Kiss and Tell", "Summerlin, Nevada" about "Summerlin"): the link a hyperlink
    would have made."""
    bare, name = page_name(title), page_name(entity)
    return bool(bare) and name in (bare, page_name(title.split(",")[0]), _short_name(title))


@functools.lru_cache(maxsize=4096)  # asked of every page title for every linking passage
def _short_name(title: str) -> str:
    """The name a text uses for a title it does not write out: "henry iii" of "Henry III of
    France", "salford city" of "Salford City F.C."; empty for any other title."""
    bare = bare_title(title)
    found = _REGNAL.match(bare) or _CLUB.match(bare)
    return page_name(found[1]) if found else ""


def names_title(text: str, title: str) -> bool:
    """Whether `text` names the page titled `title` ("the film Kiss and Tell" names
    "Kiss and Tell (1945 film)"), word for word. A title qualified after a comma, as places
    are ("Summerlin, Nevada"), is named by its name when the text also names the qualifier
    ("in Summerlin, Clark County, Nevada")."""
    words, bare = f" {page_name(text)} ", page_name(title)
    if len(bare) > 2 and f" {bare} " in words:
        return True
    short = _short_name(title)
    if short and f" {short} " in words:
        return True
    name, *qualifiers = (page_name(part) for part in title.split(","))
    return bool(qualifiers) and len(name) > 2 and f" {name} " in words and all(f" {q} " in words for q in qualifiers)


def kind(title: str) -> set[str]:
    """The words of a title's disambiguation, and the words a text uses for them: {"1944",
    "film", "movie"} of "Nevada (1944 film)"."""
    found = _PARENTHETICAL.search(html.unescape(title))
    words = set(content_words(found.group())) if found else set()
    return words.union(*(_KIND_WORDS.get(word, set()) for word in words))


def kind_named(title: str, text: str) -> bool:
    """Whether `text` names the kind a disambiguated title gives ("film" of "Nevada (1944
    film)"); a title without one passes. "Las Vegas, Nevada" names Nevada, not the film."""
    words = kind(title)
    return not words or bool(words & set(content_words(text)))


def links_to(text: str, title: str) -> bool:
    """Whether `text` names the page titled `title` as a hyperlink would: by its name and,
    for a disambiguated title, by its kind ("the film Kiss and Tell")."""
    return names_title(text, title) and kind_named(title, text)


def bare_title(title: str) -> str:
    """A title as written, without its disambiguation: "Nevada" of "Nevada (1944 film)"."""
    return _PARENTHETICAL.sub("", html.unescape(title)).strip()


# Every page's title and best passage is compared with every other page's title: each text
# is normalised once per request, not once per comparison.
@functools.lru_cache(maxsize=4096)
def page_name(title: str) -> str:
    """A title without its disambiguation, as words: "Pasek & Paul" is "pasek and paul".
    Titles taken from HTML may keep its escapes ("Will &amp; Grace"): they are read as text.
    A possessive names its owner: "Governor Nelson Rockefeller's Committee" names "Nelson
    Rockefeller"."""
    return normalize_name(_POSSESSIVE.sub("", bare_title(title)))
