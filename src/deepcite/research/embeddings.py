"""Sentence embeddings from wordllama, loaded lazily and run off the event loop.

wordllama is a table of token vectors, average-pooled: no network, no GPU, a
16 MB weights file shipped inside its wheel. It is weak on its own, which is
why ranking fuses it with BM25 rather than trusting it alone.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from deepcite.errors import ServiceUnavailableError

Vectors = NDArray[np.float32]


class TextEmbedder(Protocol):
    """What ranking needs from an embedder: unit vectors for texts, one row per text."""

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


class Embedder:
    """The embedded wordllama model.

    Nothing is read at construction; the first call loads the weights in a
    worker thread (a threading lock, so concurrent first calls from any event
    loop load them once).
    """

    def __init__(
        self,
        *,
        config: str = "l2_supercat",
        dim: int = 256,
        weights_dir: Path | None = None,
        max_chars: int = 4000,
        cache_size: int = 8192,
    ) -> None:
        self.config = config
        self.dim = dim
        # None means the weights that ship inside the wordllama wheel.
        self.weights_dir = weights_dir
        # An average of word vectors settles after a few hundred tokens; the
        # rest of a long page would only cost time.
        self.max_chars = max_chars
        # Research rounds rank the same passages again with each new query.
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    async def warm_up(self) -> None:
        """Load the weights now (otherwise the first `embed` does)."""
        await asyncio.to_thread(self._ensure_model)

    def _ensure_model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> Any:
        import wordllama  # imported here: it pulls in tokenizers and safetensors

        weights_dir = self.weights_dir or Path(wordllama.__file__).parent
        try:
            return wordllama.WordLlama.load(config=self.config, cache_dir=weights_dir, dim=self.dim, disable_download=True)
        except (OSError, ValueError, AttributeError) as exc:
            raise ServiceUnavailableError(
                f"the embedding model wordllama {self.config}/{self.dim} could not be loaded: {exc}"
            ) from exc

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors, one row per text (a zero row for a text with no tokens)."""
        return await asyncio.to_thread(self._embed_sync, list(texts))

    async def similarity(self, query: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of `query` to each of `texts`."""
        vectors = await self.embed([query, *texts])
        return [float(x) for x in vectors[1:] @ vectors[0]]

    def _embed_sync(self, texts: list[str]) -> Vectors:
        model = self._ensure_model()
        clipped = [text[: self.max_chars] for text in texts]
        vectors = np.zeros((len(clipped), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(clipped):
                cached = self._cache.get(text)
                if cached is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    vectors[i] = cached
        if not missing:
            return vectors
        fresh = _pooled_unit_vectors(model, list(missing), self.dim)
        with self._lock:
            for text, vector in zip(missing, fresh, strict=True):
                self._cache[text] = vector.copy()  # a row alone, not a view that pins the batch
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        for rows, vector in zip(missing.values(), fresh, strict=True):
            vectors[rows] = vector
        return vectors


def _pooled_unit_vectors(model: Any, texts: list[str], dim: int) -> Vectors:
    """Average the token vectors of each text, then scale to unit length.

    wordllama's own `embed` pads every batch to its longest text; pooling the
    ragged token runs directly is faster (about 1.5x on SQuAD paragraphs) and
    never allocates a padded batch.
    """
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    encodings = [model.tokenizer.encode(text, add_special_tokens=False).ids for text in texts]
    rows = [i for i, ids in enumerate(encodings) if ids]
    if not rows:
        return vectors  # texts without tokens stay zero rather than NaN
    table = model.embedding
    ids = np.clip(np.concatenate([encodings[i] for i in rows]), 0, table.shape[0] - 1)
    lengths = np.array([len(encodings[i]) for i in rows])
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    sums = np.add.reduceat(table[ids], offsets, axis=0)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    vectors[rows] = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return vectors
