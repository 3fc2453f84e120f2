"""Plan searches from the question and, in later rounds, from what the evidence revealed.

Leads come from the evidence itself (the model may name one more, see `gather`): named
entities that the best passages mention but the question does not. Each is searched by
its name, and the page whose title names it is the next hop, as a hyperlink would be.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from deepcite.research.text import content_words, split_sentences

# Runs of capitalised words (allowing a few joiners and numbers): "Super Bowl 50", "University of Chicago".
_ENTITY = re.compile(
    r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:of|the|de|du|von|van|and|for|on|&)\s+)?(?:[A-Z][\w'’.-]*|\d+))*"
)
_SENTENCE_START_WORDS = {"The", "A", "An", "In", "On", "At", "It", "He", "She", "They", "This", "That",
                         "These", "Those", "His", "Her", "Its", "Their", "There", "After", "Before",
                         "During", "When", "While", "However", "Although", "As", "By", "For", "From",
                         "Since", "With", "Following", "According", "Some", "Many", "Most", "Other",
                         # question words open questions the way articles open sentences
                         "What", "Which", "Who", "Whom", "Whose", "Where", "Why", "How",
                         "Did", "Does", "Do", "Is", "Are", "Was", "Were", "Can", "Could", "Will", "Would"}


# A word that ends a sentence ("Saxony." in "Lower Saxony. It flows") ends the phrase; initials
# ("J. M. Barrie") and abbreviations ("St. Paul") do not.
_ABBREVIATIONS = {"st", "mt", "mr", "mrs", "ms", "dr", "jr", "sr", "co", "inc", "ltd", "no", "vs"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december"}


# A question that opens on a participle ("Born on 6 March 1937, this man ...", "Considered the
# strongest recorded cyclone, which ...") names nothing with it: searched as a quoted phrase,
# "Born on 6 March 1937" is written by no page.
_PARTICIPLE_OPENING = re.compile(
    r"^\W*(?:[A-Z][a-z]{2,}(?:ed|ing)|Born|Known|Built|Written|Made|Set|Held|Led|Given|Taken|Shown|Seen)"
    r"(?=\s+(?:on|in|at|by|as|from|to|for|the|a|an|with|after|during)\b|\s+[\"“])"
)


def _to_sentence_end(words: list[str]) -> list[str]:
    for i, word in enumerate(words[:-1]):
        letters = word.rstrip(".")
        if word.endswith(".") and len(letters) > 1 and letters.lower() not in _ABBREVIATIONS:
            return words[: i + 1]
    return words


def _without_date(words: list[str]) -> list[str]:
    """A name joined to the date after it ("Chris Van Hollen on April 29") is the name alone."""
    for i in range(1, len(words) - 1):
        if words[i].islower() and words[i + 1].lower().strip(".,") in _MONTHS:
            return words[:i]
    return words


def entities(text: str) -> list[str]:
    """Named-entity-like phrases in order of appearance, without a leading function word."""
    return [phrase for phrase, _ in entity_positions(text)]


def entity_positions(text: str) -> list[tuple[str, int]]:
    """`entities`, each with the number of words of `text` before it."""
    found = []
    words_before, counted_to = 0, 0
    for match in _ENTITY.finditer(text):
        words_before += len(text[counted_to : match.start()].split())
        counted_to = match.start()
        words = _without_date(_to_sentence_end(match.group().split()))
        # An index, not repeated slicing: a run of thousands of "The"s stays linear.
        first = next((i for i, word in enumerate(words) if word not in _SENTENCE_START_WORDS), len(words))
        phrase = " ".join(words[first:]).strip(".,;:'’-")
        if len(phrase) > 2:
            found.append((phrase, words_before + first))
    return found


def question_entities(question: str) -> list[str]:
    """The question's entities, each compared pair also apart: "Were Local H and For Against
    both from the US?" names "Local H" and "For Against", each a page to find, before the
    joined phrase (which may itself be one name, "Bosnia and Herzegovina")."""
    return list(_joined_phrases(question))


def _joined_phrases(question: str) -> dict[str, str]:
    """Each of the question's entities -> the phrase it was named in: "Local H" -> "Local H
    and For Against"; an entity named alone is its own phrase."""
    found: dict[str, str] = {}
    for entity in entities(_PARTICIPLE_OPENING.sub(lambda m: m[0].lower(), question, count=1)):
        parts = [part for part in entity.split(" and ") if len(part) > 2]
        for name in [*parts, entity] if len(parts) > 1 else [entity]:
            found.setdefault(name, entity)
    return found


def is_date(phrase: str) -> bool:
    """"July 26", "May 1860": a date names no page worth following."""
    return any(word.lower().strip(".,") in _MONTHS for word in phrase.split())


def first_queries(search_text: str, count: int) -> list[str]:
    """The question itself, its keywords, then each entity it names with the other keywords."""
    keywords = content_words(search_text)
    queries = dict.fromkeys(q for q in (search_text, " ".join(dict.fromkeys(keywords))) if q.strip())
    # Linear in the question: each entity's words are read once, and only the first
    # entities that still make new queries are looked at.
    for entity, phrase in _joined_phrases(search_text).items():
        if len(queries) >= count:
            break
        # A compared name is searched without the other's words, which would find the other's pages.
        entity_words = set(content_words(phrase))
        rest = itertools.islice((w for w in keywords if w not in entity_words), 4)
        queries[f'"{entity}" ' + " ".join(rest)] = None
    return list(queries)[:count]


def follow_up_queries(
    question: str, passages: Sequence[str], known: set[str], count: int
) -> list[tuple[str, str]]:
    """Leads from the best passages: (entity, query) pairs for entities not yet searched.

    An entity mentioned in the passages that answer part of the question is the bridge
    to the part they do not answer; its own page is where the rest is found. Of a passage's
    entities, those in a sentence that states the question's relation come first: "the
    company that Sachin Warrier worked for as a software engineer" leads to the company
    of "He worked as a software engineer in Tata Consultancy Services", not to his songs.
    HotpotQA tune 0-211, base, with the gold answer as the reading: both supporting pages
    read 194 -> 202, both cited 181 -> 184.
    """
    named = question_entities(question)
    asked = {w.lower() for w in named} | {w.lower() for w in known}
    question_words = set(content_words(question))
    relation = question_words - {w for entity in named for w in content_words(entity)}
    scores: dict[str, float] = {}
    for rank, passage in enumerate(passages):
        for start, end in split_sentences(passage):
            sentence = passage[start:end]
            weight = (1 + len(relation & set(content_words(sentence)))) / (rank + 1)
            relation_at = [i for i, word in enumerate(sentence.split()) if relation & set(content_words(word))]
            for entity, at in entity_positions(sentence):
                words = set(content_words(entity))
                if entity.lower() in asked or not words or words <= question_words or is_date(entity):
                    continue
                if "." in entity and not any(ch.islower() for ch in entity):
                    continue  # "U.S", "H.R": an abbreviation's search finds every page that uses it
                # Of a sentence's entities, the one beside the relation's words is its subject or
                # object: "introduced in the U.S. House ... by Chris Van Hollen", not the bill's
                # long name ("Democracy Is Strengthened by Casting Light On Spending").
                nearness = _nearness(at, len(entity.split()), relation_at)
                scores[entity] = scores.get(entity, 0.0) + weight * (1 + nearness)
    leads = sorted(scores, key=lambda e: -scores[e])[:count]
    # The entity alone: its own page is what a search for its name finds first.
    return [(entity, f'"{entity}"') for entity in leads]


def _nearness(first: int, length: int, relation_at: list[int]) -> float:
    """1 for an entity next to a word of the question's relation, falling with the words
    between them; 0 where the sentence has none."""
    gaps = [first - at - 1 if at < first else at - first - length for at in relation_at]
    return 1 / (1 + max(0, min(gaps))) if gaps else 0.0
