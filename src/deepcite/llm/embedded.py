"""The embedded model: a small instruct model run in-process by llama.cpp.

Which one is a setting (`llm_embedded`, see `model_files.MODEL_FILES`); its GGUF file
comes from registry packages and is hash-checked before it is opened. llama.cpp state cannot
be shared between threads, so one generation runs at a time, in a worker thread
that streams text into the event loop.

Prompts are formatted as ChatML here and sent as raw tokens to `Llama.generate`,
which keeps the longest common token prefix of consecutive prompts in the KV
cache: a fixed system prompt is evaluated once (see `warm_up`) and later calls
only pay for what follows it.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepcite.config import DEFAULT_MODEL_CACHE, ConfigError, Settings
from deepcite.errors import DeepciteError, InvalidRequestError
from deepcite.llm.base import ChatMessage, GenerationOptions
from deepcite.llm.grammar import GrammarFilter, schema_to_gbnf
from deepcite.llm.model_files import MODEL_FILES

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
# Every model we embed speaks ChatML; a conversation without a system turn gets this one.
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
# No repetition penalty: it also penalises the prompt's tokens, and answers must
# copy names and numbers from the sources (with 1.1 the model misquotes them).
REPEAT_PENALTY = 1.0
GRAMMAR_CACHE_SIZE = 64


def format_chatml(messages: list[ChatMessage]) -> str:
    """The conversation in SmolLM2's ChatML template, ending where the assistant speaks."""
    turns = _with_system_turn(messages)
    return "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in turns) + ASSISTANT_HEADER


ASSISTANT_HEADER = "<|im_start|>assistant\n"


def _with_system_turn(messages: list[ChatMessage]) -> list[ChatMessage]:
    if messages and messages[0].role == "system":
        return messages
    return [ChatMessage("system", DEFAULT_SYSTEM_PROMPT), *messages]


class _StopStrings:
    """Cuts the output at the first stop string, holding back text that may start one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """The text safe to emit now, and whether a stop string was reached."""
        self.pending += text
        hits = [self.pending.index(s) for s in self.stops if s in self.pending]
        if hits:
            out, self.pending = self.pending[: min(hits)], ""
            return out, True
        held = max(
            (n for s in self.stops for n in range(1, len(s)) if self.pending.endswith(s[:n])),
            default=0,
        )
        cut = len(self.pending) - held
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def finish(self, text: str) -> str:
        out, _ = self.feed(text)
        out, self.pending = out + self.pending, ""
        return out


class _Finished:
    """Marks the end of a worker's output in the queue."""


_FINISHED = _Finished()
_QueueItem = str | BaseException | _Finished


class EmbeddedModel:
    """A `ChatModel` backed by llama.cpp; loads its weights on first use."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model: str = DEFAULT_MODEL,
        cache_dir: Path | None = None,
        context: int = 2048,
        threads: int = 2,
    ) -> None:
        if model not in MODEL_FILES:
            raise ConfigError(f"unknown embedded model {model!r}; choose one of {', '.join(MODEL_FILES)}")
        self.name = model
        # An explicit path is trusted as given (tests, a model of one's own); otherwise
        # the pinned file is joined into `cache_dir` and its hash checked when loading.
        self.model_path = model_path
        # Expanded here too: a `Settings` built in code keeps "~" as it was written.
        self.cache_dir = (cache_dir or DEFAULT_MODEL_CACHE).expanduser()
        self.context = context
        self.threads = threads
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        # `_turn` queues callers without holding threads; `_llama_lock` is what makes
        # the worker threads exclusive, even when a caller is cancelled twice or two
        # event loops share the model (each loop gets its own `_turn`).
        self._turn = asyncio.Lock()
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._llama_lock = threading.Lock()
        self._grammar_lock = threading.Lock()
        self._grammars: collections.OrderedDict[str, str] = collections.OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedModel:
        return cls(
            model=settings.llm_embedded,
            cache_dir=settings.model_cache,
            context=settings.llm_context,
            threads=settings.llm_threads,
        )

    async def load(self) -> None:
        """Load the weights (about a second) without blocking the event loop."""
        await asyncio.to_thread(self._loaded)

    async def warm_up(self, system_prompt: str) -> None:
        """Evaluate the ChatML turn of `system_prompt` now, so requests that start
        with it only pay for their own tokens."""
        await self.load()
        prefix = self._chatml_tokens([ChatMessage("system", system_prompt)], assistant_header=False)
        async for _ in self._generate(prefix, GenerationOptions(max_tokens=1)):
            pass

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the real tokenizer. Loads the model on first use:
        await `load()` at start-up to keep that off the event loop."""
        # Tokenizing reads only the vocabulary, which llama.cpp never mutates,
        # so it is safe beside a running generation.
        return len(self._loaded().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, messages: list[ChatMessage]) -> list[int]:
        """The exact prompt `stream` evaluates for `messages` (same loading caveat)."""
        return self._chatml_tokens(messages, assistant_header=True)

    async def stream(self, messages: list[ChatMessage], options: GenerationOptions) -> AsyncGenerator[str, None]:
        await self.load()
        async for piece in self._generate(self.prompt_tokens(messages), options):
            yield piece

    async def aclose(self) -> None:
        """Free the weights; the model loads again if used afterwards."""
        async with self._turn_in(asyncio.get_running_loop()):
            with self._load_lock, self._llama_lock:
                if self._llama is not None:
                    self._llama.close()
                    self._llama = None

    def _chatml_tokens(self, messages: list[ChatMessage], *, assistant_header: bool) -> list[int]:
        # Only the template's own markers are parsed as control tokens: text in a
        # message that spells "<|im_end|>" stays text and cannot open a new turn.
        llama = self._loaded()

        def control(text: str) -> list[int]:
            return llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

        tokens = llama.tokenize(b"", add_bos=True, special=True)  # BOS, if the model wants one
        for message in _with_system_turn(messages):
            tokens += control(f"<|im_start|>{message.role}\n")
            tokens += llama.tokenize(message.content.encode("utf-8"), add_bos=False, special=False)
            tokens += control("<|im_end|>\n")
        if assistant_header:
            tokens += control(ASSISTANT_HEADER)
        return tokens

    async def _generate(self, tokens: list[int], options: GenerationOptions) -> AsyncIterator[str]:
        llama = await asyncio.to_thread(self._loaded)
        if len(tokens) >= self.context:
            raise InvalidRequestError(
                f"the prompt is {len(tokens)} tokens; the embedded model's context holds {self.context}",
                param="messages",
                code="context_length_exceeded",
            )
        grammar = await asyncio.to_thread(self._grammar_for, options.json_schema)
        loop = asyncio.get_running_loop()
        async with self._turn_in(loop):
            queue: asyncio.Queue[_QueueItem] = asyncio.Queue()
            stop = threading.Event()

            def emit(item: _QueueItem) -> None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # the event loop is closed: nobody is listening
                    stop.set()

            def produce() -> None:
                try:
                    with self._llama_lock:
                        for text in self._completion(llama, tokens, options, grammar, stop):
                            emit(text)
                except BaseException as exc:  # handed to the consumer, re-raised there
                    emit(exc)
                finally:
                    emit(_FINISHED)

            worker = asyncio.ensure_future(asyncio.to_thread(produce))
            try:
                while True:
                    item = await queue.get()
                    if isinstance(item, _Finished):
                        break
                    if isinstance(item, DeepciteError | asyncio.CancelledError):
                        raise item
                    if isinstance(item, BaseException):
                        raise DeepciteError(f"the embedded model failed: {item}") from item
                    yield item
            finally:
                # The consumer may be gone (closed generator, cancelled task):
                # the flag ends generation within a token.
                stop.set()
                await asyncio.shield(worker)

    def _turn_in(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        if self._turn_loop is not loop:
            self._turn, self._turn_loop = asyncio.Lock(), loop
        return self._turn

    def _completion(
        self,
        llama: Llama,
        tokens: list[int],
        options: GenerationOptions,
        gbnf: str | None,
        stop: threading.Event,
    ) -> Iterator[str]:
        # We drive `Llama.generate` (where the KV-cache prefix reuse happens) rather
        # than `create_completion(stream=True)`: the latter silently drops characters
        # whose UTF-8 bytes span several tokens (東, ✓, emoji), which byte-level BPE
        # produces all the time. An incremental decoder holds partial bytes instead.
        import llama_cpp

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = _StopStrings(options.stop)
        budget = min(options.max_tokens, self.context - len(tokens))
        vocab = llama._model.vocab  # the public API has no end-of-generation test
        grammar = GrammarFilter(vocab, gbnf, len(tokens)) if gbnf is not None else None
        tokens_out = llama.generate(
            tokens,
            temp=options.temperature,
            repeat_penalty=REPEAT_PENALTY,
            logits_processor=llama_cpp.LogitsProcessorList([grammar]) if grammar is not None else None,
            # Also checked between prompt evaluation and the first token.
            stopping_criteria=llama_cpp.StoppingCriteriaList([lambda _ids, _logits: stop.is_set()]),
        )
        try:
            for count, token in enumerate(tokens_out, start=1):
                if stop.is_set() or llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                text, done = stops.feed(decoder.decode(llama.detokenize([token])))
                if text:
                    yield text
                if done:
                    return
                if count >= budget:
                    break
        finally:
            tokens_out.close()
            if grammar is not None:
                grammar.close()
        tail = stops.finish(decoder.decode(b"", final=True))
        if tail and not stop.is_set():
            yield tail

    def _loaded(self) -> Llama:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                path = self.model_path or MODEL_FILES[self.name].path(self.cache_dir)
                self._llama = Llama(
                    model_path=str(path),
                    n_ctx=self.context,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    verbose=False,
                )
            return self._llama

    def _grammar_for(self, schema: dict[str, Any] | None) -> str | None:
        """The GBNF grammar of `schema`, converted once per distinct schema."""
        if schema is None:
            return None
        key = json.dumps(schema, sort_keys=True)
        with self._grammar_lock:
            cached = self._grammars.get(key)
            if cached is not None:
                self._grammars.move_to_end(key)
                return cached
        gbnf = schema_to_gbnf(schema)
        with self._grammar_lock:
            self._grammars[key] = gbnf
            while len(self._grammars) > GRAMMAR_CACHE_SIZE:
                self._grammars.popitem(last=False)
        return gbnf
