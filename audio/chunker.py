"""Sentence chunker: turns the model's text deltas into speakable pieces as they arrive.

The reference stores `tts_chunk_min_chars`/`tts_chunk_max_chars` and ships this algorithm
(`utils/text.SentenceChunker`) but never uses it (§9.2). We do: each piece goes to TTS as soon as it is
complete, so the first sentence is spoken while the model is still writing the rest.

Cut rules, in order: at the first newline; else after the first sentence end (`.`, `!`, `?` runs
followed by whitespace: while streaming, a full stop at the very end of the buffer may still be
"3.14" or "e.g." so it waits for the next delta or `flush`); else, if the buffer reached max_chars, at
the last space before max_chars (a hard cut when that space is in the first half); else, if it reached
min_chars, after a soft break (`,` `:` `;` followed by whitespace).

The first piece of a reply is cut sooner: at its first clause boundary (a soft break after at least
`first_clause_words` words, 1 by default), so the first audio is "Sure," or "The store opens at nine,"
instead of the whole first sentence: a short piece is synthesised in a fraction of the time, and the
rest is synthesised while it plays. Later pieces follow the rules above. `first_clause_words=0` keeps
the plain sentence rules.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")
_SOFT_BREAK = re.compile(r"[,:;]+\s")


class SentenceChunker:
    def __init__(self, min_chars: int = 20, max_chars: int = 120, *, first_clause_words: int = 1) -> None:
        self.min_chars = max(1, int(min_chars))
        self.max_chars = max(self.min_chars, int(max_chars), 10)
        self.first_clause_words = max(0, int(first_clause_words))
        self._buffer = ""
        self._first = True

    def push(self, delta: str) -> list[str]:
        """Add text; return the pieces that are complete now (stripped, non-empty)."""
        self._buffer += delta
        pieces: list[str] = []
        while True:
            cut = self._cut_index()
            if cut is None:
                break
            piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if piece:
                pieces.append(piece)
                self._first = False
        return pieces

    def flush(self) -> str:
        """The stripped remainder (the end of the reply)."""
        rest, self._buffer = self._buffer.strip(), ""
        if rest:
            self._first = False
        return rest

    def _cut_index(self) -> int | None:
        buffer = self._buffer
        newline = buffer.find("\n")
        if newline >= 0:
            return newline + 1
        sentence = _SENTENCE_END.search(buffer)
        if self._first and self.first_clause_words:
            for soft in _SOFT_BREAK.finditer(buffer, 0, sentence.end() if sentence else len(buffer)):
                if len(buffer[: soft.start()].split()) >= self.first_clause_words:
                    return soft.end()
        if sentence:
            return sentence.end()
        if len(buffer) >= self.max_chars:
            space = buffer.rfind(" ", 0, self.max_chars)
            return space + 1 if space >= self.max_chars // 2 else self.max_chars
        if len(buffer) >= self.min_chars:
            ends = [m.end() for m in _SOFT_BREAK.finditer(buffer)]
            if ends and ends[-1] >= self.min_chars:  # the last soft break gives the longest piece
                return ends[-1]
        return None
