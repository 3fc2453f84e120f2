"""Grammar-constrained decoding that stays fast on a 49k-token vocabulary.

llama-cpp-python puts the GBNF grammar sampler in front of the whole vocabulary
at every step; matching ~49,000 token texts against the grammar costs a few
hundred milliseconds per token on two cores, ten times the model itself.
`GrammarFilter` does what llama.cpp's own server does instead ("grammar last"):
it checks only the model's best candidates against the grammar and falls back to
the whole vocabulary only when none of them fits.
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from deepcite.llm.schema_limits import grammar_schema

logger = logging.getLogger(__name__)

# The layout of llama.cpp's `llama_token_data` (id, logit, p).
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
# A short list is cheap to check and nearly always holds a token the grammar allows.
SHORTLIST_SIZE = 40
_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


# llama.cpp parses a grammar's nested groups recursively: about 2,000 levels fail to
# parse and 20,000 overflow its stack, killing the process. Ours stay far below both.
GBNF_MAX_NESTING = 128
GBNF_MAX_CHARS = 200_000


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """A GBNF grammar for JSON valid against `schema` (any JSON where the converter falls short).

    The converter is given `grammar_schema(schema)`, without the wide repetition ranges
    it would nest, and what it returns is checked (`gbnf_problem`) before llama.cpp
    ever parses it: a grammar too deep or too large falls back to plain JSON.
    """
    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

    try:
        gbnf = _astral_escapes(json_schema_to_gbnf(json.dumps(grammar_schema(schema))))
    except Exception:
        # The caller validates and repairs (see `structured.complete_json`).
        return JSON_GBNF
    problem = gbnf_problem(gbnf)
    if problem is not None:
        logger.warning("the schema's grammar is unsafe for llama.cpp (%s): constraining to JSON only", problem)
        return JSON_GBNF
    return gbnf


def gbnf_problem(gbnf: str) -> str | None:
    """Why llama.cpp must not parse `gbnf` (too large, groups nested too deep), or None."""
    if len(gbnf) > GBNF_MAX_CHARS:
        return f"{len(gbnf):,} characters, more than {GBNF_MAX_CHARS:,}"
    depth = deepest = 0
    quote: str | None = None  # inside a "literal" or a [class]
    escaped = False
    for char in gbnf:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char == '"':
            quote = '"'
        elif char == "[":
            quote = "]"
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
        elif char == "#":  # a comment runs to the end of the line
            quote = "\n"
    if deepest > GBNF_MAX_NESTING:
        return f"groups nested {deepest:,} deep, more than {GBNF_MAX_NESTING}"
    return None


def _astral_escapes(gbnf: str) -> str:
    """Rewrite UTF-16 surrogate pairs (`\\ud83d\\ude00`) as GBNF's `\\U0001f600`.

    The converter escapes literal text (enum, const) JSON-style, and llama.cpp's
    grammar reads each surrogate as a code point of its own, which forces invalid
    UTF-8 bytes out of the model.
    """

    def joined(match: re.Match[str]) -> str:
        high, low = int(match[1], 16), int(match[2], 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return _SURROGATE_PAIR.sub(joined, gbnf)


class GrammarFilter:
    """A llama-cpp-python logits processor that allows only tokens the grammar accepts.

    One filter serves one generation: it follows the tokens generated after
    `prompt_length` to advance the grammar. Call `close` when done.
    """

    def __init__(self, vocab: Any, gbnf: str, prompt_length: int) -> None:
        import llama_cpp
        from llama_cpp.llama_grammar import JSON_GBNF

        self._llama_cpp = llama_cpp
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:  # a grammar llama.cpp cannot parse: any JSON, repaired later
            sampler = llama_cpp.llama_sampler_init_grammar(vocab, JSON_GBNF.encode("utf-8"), b"root")
        self._sampler: Any = sampler
        self._prompt_length = prompt_length
        self._accepted = 0

    def __call__(self, input_ids: npt.NDArray[np.intc], logits: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        for token in input_ids[self._prompt_length + self._accepted :]:
            self._llama_cpp.llama_sampler_accept(self._sampler, int(token))
            self._accepted += 1
        shortlist = np.argpartition(logits, -SHORTLIST_SIZE)[-SHORTLIST_SIZE:]
        allowed = self._allowed(shortlist, logits)
        if allowed.size == 0:
            allowed = self._allowed(np.arange(logits.shape[0]), logits)
        filtered = np.full_like(logits, -np.inf)
        filtered[allowed] = logits[allowed]
        return filtered

    def _allowed(self, ids: npt.NDArray[np.intp], logits: npt.NDArray[np.single]) -> npt.NDArray[np.intc]:
        llama_cpp = self._llama_cpp
        data = np.zeros(ids.shape[0], dtype=_TOKEN_DATA)
        data["id"] = ids
        data["logit"] = logits[ids]
        candidates = llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=ids.shape[0], selected=-1, sorted=False
        )
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(candidates))
        kept: npt.NDArray[np.intc] = data["id"][np.isfinite(data["logit"])]
        return kept

    def close(self) -> None:
        if self._sampler is not None:
            self._llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None
