"""Plan searches from the question and, in later rounds, from what the evidence revealed.

The embedded model is too weak to plan a second hop, so leads come from the evidence
itself: named entities and titles that the best passages mention but the question
does not, searched together with the question's words the evidence still lacks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from deepcite.research.text import content_words

# Runs of capitalised words (allowing a few joiners and numbers): "Super Bowl 50", "University of Chicago".
_ENTITY = re.compile(
    r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:of|the|de|du|von|van|and|for|on)\s+)?(?:[A-Z][\w'’.-]*|\d+))*"
)
_SENTENCE_START_WORDS = {"The", "A", "An", "In", "On", "At", "It", "He", "She", "They", "This", "That",
                         "These", "Those", "His", "Her", "Its", "Their", "There", "After", "Before",
                         "During", "When", "While", "However", "Although", "As", "By", "For", "From",
                         "Since", "With", "Following", "According", "Some", "Many", "Most", "Other",
                         # question words open questions the way articles open sentences
                         "What", "Which", "Who", "Whom", "Whose", "Where", "Why", "How",
                         "Did", "Does", "Do", "Is", "Are", "Was", "Were", "Can", "Could", "Will", "Would"}


def entities(text: str) -> list[str]:
    """Named-entity-like phrases in order of appearance, without a leading function word."""
    found = []
    for match in _ENTITY.finditer(text):
        words = match.group().split()
        # An index, not repeated slicing: a run of thousands of "The"s stays linear.
        first = next((i for i, word in enumerate(words) if word not in _SENTENCE_START_WORDS), len(words))
        phrase = " ".join(words[first:]).strip(".,;:'’-")
        if len(phrase) > 2:
            found.append(phrase)
    return found


def first_queries(search_text: str, count: int) -> list[str]:
    """The question itself, its keywords, then each entity it names with the other keywords."""
    keywords = content_words(search_text)
    queries = dict.fromkeys(q for q in (search_text, " ".join(dict.fromkeys(keywords))) if q.strip())
    # Linear in the question: each entity's words are read once, and only the first
    # entities that still make new queries are looked at.
    for entity in dict.fromkeys(entities(search_text)):
        if len(queries) >= count:
            break
        entity_words = set(content_words(entity))
        rest = itertools.islice((w for w in keywords if w not in entity_words), 4)
        queries[f'"{entity}" ' + " ".join(rest)] = None
    return list(queries)[:count]


def follow_up_queries(
    question: str, passages: Sequence[str], known: set[str], count: int
) -> list[tuple[str, str]]:
    """Leads from the best passages: (entity, query) pairs for entities not yet searched.

    An entity mentioned in the passages that answer part of the question is the bridge
    to the part they do not answer; it is searched with the question's missing words.
    """
    asked = {w.lower() for w in entities(question)} | {w.lower() for w in known}
    question_words = set(content_words(question))
    seen_words = set(content_words(" ".join(passages)))
    gaps = [w for w in dict.fromkeys(content_words(question)) if w not in seen_words]
    scores: dict[str, float] = {}
    for rank, passage in enumerate(passages):
        for entity in entities(passage):
            words = set(content_words(entity))
            if entity.lower() in asked or not words or words <= question_words:
                continue
            scores[entity] = scores.get(entity, 0.0) + 1.0 / (rank + 1)
    leads = sorted(scores, key=lambda e: -scores[e])[:count]
    return [(entity, f'"{entity}" ' + " ".join(gaps[:4])) for entity in leads]
