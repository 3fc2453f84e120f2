"""The embedded model's own process: llama.cpp runs here, so a native crash ends
one generation instead of the server.

`python -m deepcite.llm.model_process FD MODEL_PATH CONTEXT THREADS` loads the
weights and serves generations over the socket FD, one at a time (the protocol
is below). It exits when the socket closes, so it never outlives the server.

Requests (pickled tuples through `multiprocessing.connection.Connection`):
  ("generate", tokens, max_tokens, temperature, stop_strings, gbnf or None)
  ("stop",)  while generating: end it within a token
Replies:
  ("ready",) once the weights are loaded; ("text", str) per piece;
  ("done", tokens_in_kv_cache) or ("error", message) at the end of each generation.
"""

from __future__ import annotations

import codecs
import signal
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from deepcite.llm.grammar import GrammarFilter

# No repetition penalty: it also penalises the prompt's tokens, and answers must
# copy names and numbers from the sources (with 1.1 the model misquotes them).
REPEAT_PENALTY = 1.0


class StopStrings:
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


def completion(
    llama: Any,
    tokens: list[int],
    max_tokens: int,
    temperature: float,
    stop_strings: tuple[str, ...],
    gbnf: str | None,
    stopped: Any,
) -> Iterator[str]:
    """The text of one generation, piece by piece; `stopped()` ends it early."""
    # We drive `Llama.generate` (where the KV-cache prefix reuse happens) rather
    # than `create_completion(stream=True)`: the latter silently drops characters
    # whose UTF-8 bytes span several tokens (東, ✓, emoji), which byte-level BPE
    # produces all the time. An incremental decoder holds partial bytes instead.
    import llama_cpp

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stops = StopStrings(stop_strings)
    budget = min(max_tokens, llama.n_ctx() - len(tokens))
    vocab = llama._model.vocab  # the public API has no end-of-generation test
    grammar = GrammarFilter(vocab, gbnf, len(tokens)) if gbnf is not None else None
    tokens_out = llama.generate(
        tokens,
        temp=temperature,
        repeat_penalty=REPEAT_PENALTY,
        logits_processor=llama_cpp.LogitsProcessorList([grammar]) if grammar is not None else None,
        # Also checked between prompt evaluation and the first token.
        stopping_criteria=llama_cpp.StoppingCriteriaList([lambda _ids, _logits: stopped()]),
    )
    try:
        for count, token in enumerate(tokens_out, start=1):
            if stopped() or llama_cpp.llama_vocab_is_eog(vocab, token):
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
    if tail and not stopped():
        yield tail


def serve(conn: Connection, model_path: str, context: int, threads: int) -> None:
    from llama_cpp import Llama

    llama = Llama(
        model_path=model_path,
        n_ctx=context,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        if request[0] != "generate":
            continue  # a stop that arrived after its generation ended
        _, tokens, max_tokens, temperature, stop_strings, gbnf = request
        stop_requested = False

        def stopped() -> bool:
            nonlocal stop_requested
            # A poll per token costs microseconds beside the token's milliseconds.
            while not stop_requested and conn.poll():
                stop_requested = conn.recv()[0] == "stop"
            return stop_requested

        try:
            for text in completion(llama, tokens, max_tokens, temperature, stop_strings, gbnf, stopped):
                conn.send(("text", text))
        except (EOFError, OSError):
            return
        except Exception as exc:  # reported to the caller, who raises it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("done", llama.n_tokens))


def main(argv: list[str]) -> None:
    fd, model_path, context, threads = argv
    # Ctrl-C reaches the whole process group: the server shuts down and closes the socket,
    # which ends this process cleanly, without a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(fd)), model_path, int(context), int(threads))


if __name__ == "__main__":
    main(sys.argv[1:])
