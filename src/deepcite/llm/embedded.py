"""The embedded model: a small instruct model run by llama.cpp in a process of its own.

Which one is a setting (`llm_embedded`, see `model_files.MODEL_FILES`); its GGUF file
comes from registry packages and is hash-checked before it is opened. The weights
live in a child process (`model_process`), so a native crash in llama.cpp fails the
generation it happened in and the next one starts a fresh process; the server keeps
only the vocabulary, to tokenize. One generation runs at a time, driven by a worker
thread that streams the child's text into the event loop.

Prompts are formatted as ChatML here and sent as raw tokens to `Llama.generate`,
which keeps the longest common token prefix of consecutive prompts in the KV
cache: a fixed system prompt is evaluated once (see `warm_up`) and later calls
only pay for what follows it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepcite.config import DEFAULT_MODEL_CACHE, ConfigError, Settings
from deepcite.errors import DeepciteError, InvalidRequestError, ServiceUnavailableError
from deepcite.llm.base import ChatMessage, GenerationOptions
from deepcite.llm.grammar import schema_to_gbnf
from deepcite.llm.model_files import MODEL_FILES

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
# Every model we embed speaks ChatML; a conversation without a system turn gets this one.
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
GRAMMAR_CACHE_SIZE = 64
# How often a waiting worker thread looks whether its consumer has gone.
STOP_POLL_SECONDS = 0.05
PROCESS_EXIT_SECONDS = 5.0
# About how long a new model process takes to load and check its weights.
RESTART_SECONDS = 5.0
# A stop is honoured between tokens and once the prompt is evaluated, which for a full
# 2,048-token context takes ~40 s on 2 cores; a process slower than this to stop is stuck.
STOP_GRACE_SECONDS = 60.0

logger = logging.getLogger(__name__)


def format_chatml(messages: list[ChatMessage]) -> str:
    """The conversation in SmolLM2's ChatML template, ending where the assistant speaks."""
    turns = _with_system_turn(messages)
    return "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in turns) + ASSISTANT_HEADER


ASSISTANT_HEADER = "<|im_start|>assistant\n"


def _with_system_turn(messages: list[ChatMessage]) -> list[ChatMessage]:
    if messages and messages[0].role == "system":
        return messages
    return [ChatMessage("system", DEFAULT_SYSTEM_PROMPT), *messages]


class _ModelProcess:
    """The child process that holds the weights (`model_process`), and the socket to it."""

    def __init__(self, path: Path, context: int, threads: int) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "deepcite.llm.model_process",
                    str(theirs.fileno()),
                    str(path),
                    str(context),
                    str(threads),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        self.conn = Connection(ours.detach())
        if self.recv() != ("ready",):
            self.close()
            raise DeepciteError("the embedded model's process did not start")

    def recv(self) -> tuple[Any, ...]:
        try:
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            raise self._ended() from None
        return reply

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise self._ended() from None

    def alive(self) -> bool:
        return self.process.poll() is None and not self.conn.closed

    def close(self) -> int:
        """End the process (it exits when its socket closes); its exit code."""
        self.conn.close()
        try:
            return self.process.wait(timeout=PROCESS_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def _ended(self) -> ServiceUnavailableError:
        code = self.close()
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        logger.error("the embedded model's process ended (%s)", how)
        return ServiceUnavailableError(
            f"the embedded model's process ended ({how}); it restarts for the next request",
            code="model_restarting",
            retry_after=RESTART_SECONDS,
        )


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
        stop_grace: float = STOP_GRACE_SECONDS,
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
        self.stop_grace = stop_grace
        self._vocab: Llama | None = None  # the tokenizer only: no weights in this process
        self._verified_path: Path | None = None
        self._load_lock = threading.Lock()
        self._process: _ModelProcess | None = None
        # What `warm_up` evaluated, evaluated again by a restarted process.
        self._warm_prefix: list[int] | None = None
        # Tokens in the child's KV cache after the last generation (prompt and output).
        self.cached_tokens = 0
        # `_turn` queues callers without holding threads; `_process_lock` is what makes
        # the worker threads exclusive, even when a caller is cancelled twice or two
        # event loops share the model (each loop gets its own `_turn`).
        self._turn = asyncio.Lock()
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._process_lock = threading.Lock()
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
        """Start the model's process and load the weights (a second or two) without
        blocking the event loop."""

        def start() -> None:
            self._loaded()
            with self._process_lock:
                self._running()

        await asyncio.to_thread(start)

    async def warm_up(self, system_prompt: str) -> None:
        """Evaluate the ChatML turn of `system_prompt` now, so requests that start
        with it only pay for their own tokens."""
        await self.load()
        self._warm_prefix = self._chatml_tokens([ChatMessage("system", system_prompt)], assistant_header=False)
        async for _ in self._generate(self._warm_prefix, GenerationOptions(max_tokens=1)):
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
        pieces = self._generate(self.prompt_tokens(messages), options)
        try:
            async for piece in pieces:
                yield piece
        finally:
            # Closed now, not when the garbage collector gets to it: the caller that
            # closes this stream gets the model back stopped.
            await pieces.aclose()

    async def aclose(self) -> None:
        """End the model's process; it starts again if the model is used afterwards."""

        def end() -> None:
            with self._process_lock:
                if self._process is not None:
                    self._process.close()
                    self._process = None

        async with self._turn_in(asyncio.get_running_loop()):
            await asyncio.to_thread(end)

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

    async def _generate(self, tokens: list[int], options: GenerationOptions) -> AsyncGenerator[str, None]:
        await asyncio.to_thread(self._loaded)
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
                    with self._process_lock:
                        for text in self._completion(tokens, options, grammar, stop):
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
                # the flag ends generation within a token and a poll.
                stop.set()
                await asyncio.shield(worker)

    def _turn_in(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        if self._turn_loop is not loop:
            self._turn, self._turn_loop = asyncio.Lock(), loop
        return self._turn

    def _completion(
        self, tokens: list[int], options: GenerationOptions, gbnf: str | None, stop: threading.Event
    ) -> Iterator[str]:
        """One generation in the child process; holds `_process_lock`."""
        process = self._running()
        process.send(("generate", tokens, options.max_tokens, options.temperature, options.stop, gbnf))
        stop_sent: float | None = None  # when the stop was sent
        while True:
            if stop_sent is None and stop.is_set():
                process.send(("stop",))
                stop_sent = time.monotonic()
            if not process.conn.poll(STOP_POLL_SECONDS):
                if stop_sent is not None and time.monotonic() - stop_sent > self.stop_grace:
                    # Stuck in native code: only ending the process frees the model for the next request.
                    logger.error("the embedded model did not stop within %.0f s: ending its process", self.stop_grace)
                    process.process.kill()
                continue
            reply = process.recv()
            if reply[0] == "done":
                self.cached_tokens = reply[1]
                return
            if reply[0] == "error":
                raise DeepciteError(f"the embedded model failed: {reply[1]}")
            if stop_sent is None:
                yield reply[1]

    def _running(self) -> _ModelProcess:
        """The model's process, started again if it has ended; holds `_process_lock`."""
        if self._process is None or not self._process.alive():
            if self._process is not None:
                self._process.close()
            self._process = _ModelProcess(self._model_file(), self.context, self.threads)
            self.cached_tokens = 0
            if self._warm_prefix is not None:  # so the next request pays only for its own tokens
                for _ in self._completion(self._warm_prefix, GenerationOptions(max_tokens=1), None, threading.Event()):
                    pass
        return self._process

    def _model_file(self) -> Path:
        """The model file, its 1.1 GB hash-checked once (about a second), not per process started."""
        if self._verified_path is None:
            self._verified_path = self.model_path or MODEL_FILES[self.name].path(self.cache_dir)
        return self._verified_path

    def _loaded(self) -> Llama:
        """The vocabulary, loaded on first use (a fraction of a second)."""
        with self._load_lock:
            if self._vocab is None:
                from llama_cpp import Llama

                self._vocab = Llama(model_path=str(self._model_file()), vocab_only=True, verbose=False)
            return self._vocab

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
