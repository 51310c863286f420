from __future__ import annotations

from audio.chunker import SentenceChunker


def _feed(chunker: SentenceChunker, text: str, step: int = 3) -> list[str]:
    pieces: list[str] = []
    for i in range(0, len(text), step):
        pieces.extend(chunker.push(text[i : i + step]))
    tail = chunker.flush()
    return pieces + ([tail] if tail else [])


def test_it_yields_each_sentence_as_soon_as_the_next_one_starts():
    chunker = SentenceChunker(min_chars=5, max_chars=120)
    assert chunker.push("The store opens at nine. ") == ["The store opens at nine."]
    assert chunker.push("It closes") == []
    assert chunker.flush() == "It closes"


def test_it_splits_a_streamed_reply_into_sentences():
    text = "Sure! The store opens at nine. It closes at six on weekdays.\nSee you soon"
    assert _feed(SentenceChunker(10, 120), text) == [
        "Sure!",
        "The store opens at nine.",
        "It closes at six on weekdays.",
        "See you soon",
    ]


def test_it_does_not_cut_a_decimal_number_while_it_is_still_arriving():
    chunker = SentenceChunker(5, 120)
    assert chunker.push("It costs 3.") == []
    assert chunker.push("50 dollars. Thanks") == ["It costs 3.50 dollars."]


def test_it_cuts_a_long_sentence_at_a_space_before_max_chars():
    text = "word " * 40
    pieces = _feed(SentenceChunker(10, 50), text, step=7)
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_it_cuts_at_a_comma_once_min_chars_are_reached():
    chunker = SentenceChunker(min_chars=20, max_chars=200, first_clause_words=0)
    assert chunker.push("Well, ") == []  # a soft break before min_chars does not cut
    assert chunker.push("if you come tomorrow, we") == ["Well, if you come tomorrow,"]


def test_the_first_piece_ends_at_the_first_clause_so_audio_starts_sooner():
    chunker = SentenceChunker(min_chars=40, max_chars=200)
    assert chunker.push("Sure, ") == ["Sure,"]  # the reply's first clause, whatever min_chars says
    assert chunker.push("if you come tomorrow, we") == []  # later pieces: the sentence rules
    assert _feed(SentenceChunker(20, 200, first_clause_words=3), "Yes, the store opens at nine, and more.") == [
        "Yes, the store opens at nine,",
        "and more.",
    ]


def test_it_hard_cuts_text_without_spaces():
    pieces = _feed(SentenceChunker(5, 20), "x" * 50, step=50)
    assert pieces == ["x" * 20, "x" * 20, "x" * 10]
