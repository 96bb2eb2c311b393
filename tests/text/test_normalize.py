"""Normalization and quality filters: text that only looks different must not count twice or cost more."""

import gzip
import json
import unicodedata
from itertools import islice
from pathlib import Path

import polars as pl
import pytest

from onett_text.normalize import normalize_text
from onett_text.quality import apply_rules
from onett_text.tokens import count_tokens

ARTICLE_1 = "대한민국 헌법 제1조 대한민국은 민주공화국이다."
ENCODING = "cl100k_base"  # the consumer's encoding (the platform's default)
PETITIONS = Path(__file__).resolve().parents[2] / "../shared/corpora/ko_petitions/petitions.jsonl.gz"


def normalize(texts: list[str]) -> list[str]:
    return pl.DataFrame({"text": texts}).select(normalize_text(pl.col("text")))["text"].to_list()


def norm(text: str) -> str:
    return normalize([text])[0]


def filtered(texts: list[str]) -> list[tuple[str, str]]:
    frame = apply_rules(pl.DataFrame({"text": normalize(texts)}))
    return list(zip(frame["rejected_by"].to_list(), frame["reason"].to_list()))


# --- normalization ---------------------------------------------------------------------------


def test_nfd_hangul_becomes_nfc_and_equals_the_nfc_input():
    """Jamo-decomposed Hangul (macOS file names, some editors) must be the same text as composed Hangul."""
    nfd = unicodedata.normalize("NFD", ARTICLE_1)
    assert nfd != ARTICLE_1 and len(nfd) > len(ARTICLE_1)
    assert norm(nfd) == norm(ARTICLE_1) == ARTICLE_1
    assert unicodedata.is_normalized("NFC", norm(nfd))


@pytest.mark.parametrize(
    "invisible",
    ["\u200b", "\ufeff", "\u200e", "\u202e", "\u00ad", "\u2060", "\x00", "\x07", "\x1b", "\x7f"],
    ids=["ZWSP", "BOM", "LRM", "RLO", "SHY", "WJ", "NUL", "BEL", "ESC", "DEL"],
)
def test_invisible_and_control_characters_are_removed(invisible):
    """Invisible characters cost tokens but carry nothing; they are dropped wherever they are."""
    text = f"{invisible}대한{invisible}민국은 민주{invisible}공화국이다.{invisible}"
    assert norm(text) == "대한민국은 민주공화국이다."


def test_invisible_character_inside_a_decomposed_syllable():
    """A ZWSP between the jamo of an NFD syllable must not leave the syllable decomposed.

    Removing the ZWSP only after NFC leaves bare jamo behind, so the output is not NFC and
    a second normalization changes it again.
    """
    jamo = unicodedata.normalize("NFD", "한")  # U+1112 U+1161 U+11AB
    text = jamo[0] + "\u200b" + jamo[1:] + "국"
    once = norm(text)
    assert once == "한국", [hex(ord(c)) for c in once]
    assert norm(once) == once


def test_tabs_and_newlines_survive_as_whitespace():
    """Tabs and newlines are whitespace, not control garbage: words stay separated."""
    assert norm("대한민국\t헌법") == "대한민국 헌법"
    assert norm("제1조\n대한민국은") == "제1조\n대한민국은"


def test_crlf_and_lone_cr_become_lf():
    """Windows and old Mac line endings must not make a copy look different."""
    assert norm("제1조\r\n대한민국\r민주공화국") == "제1조\n대한민국\n민주공화국"


def test_runs_of_spaces_and_ideographic_spaces_collapse():
    """Spacing differences (including U+3000 and NBSP) are not new content."""
    assert norm("대한민국   헌법\u3000\u3000제1조\u00a0 대한민국은") == "대한민국 헌법 제1조 대한민국은"
    assert norm("   앞뒤 공백   \n  줄 앞 공백") == "앞뒤 공백\n줄 앞 공백"


def test_three_or_more_blank_lines_collapse_to_one_blank_line():
    """Paragraph breaks are kept, padding is not (also when the 'blank' lines hold spaces)."""
    assert norm("제1조\n\n\n\n\n제2조") == "제1조\n\n제2조"
    assert norm("제1조\n \n\u3000\n\t\n제2조") == "제1조\n\n제2조"
    assert norm("제1조\n\n제2조") == "제1조\n\n제2조"


def test_normalization_is_idempotent():
    """Normalizing twice changes nothing, so stored normalized text can be re-run safely."""
    samples = [
        unicodedata.normalize("NFD", ARTICLE_1),
        "\ufeff대한민국\u200b 헌법\r\n\r\n\r\n\r\n제1조\u3000\u3000대한민국은\t\t민주공화국이다.\u00ad ",
        " \n\n\n ok!\x07 ",
        "",
    ]
    once = normalize(samples)
    assert normalize(once) == once


# --- token counts ----------------------------------------------------------------------------


def test_nfd_costs_more_tokens_until_normalized():
    """Decomposed Hangul inflates the token bill; after normalization both forms cost the same."""
    nfd = unicodedata.normalize("NFD", ARTICLE_1)
    raw_nfc, raw_nfd = count_tokens([ARTICLE_1, nfd], ENCODING)
    assert raw_nfd > raw_nfc
    norm_nfc, norm_nfd = count_tokens(normalize([ARTICLE_1, nfd]), ENCODING)
    assert norm_nfd == norm_nfc == raw_nfc


# --- filters ---------------------------------------------------------------------------------


def test_empty_text_is_rejected_as_empty():
    """Whitespace and invisibles only: empty after normalization, and 'empty' wins over 'too_short'."""
    assert filtered(["", "  \u200b\n\n\ufeff "]) == [
        ("empty", "the document is empty after normalization"),
        ("empty", "the document is empty after normalization"),
    ]


@pytest.mark.parametrize(("text", "count"), [("ㅋㅋㅋ", 3), ("ok!", 2), ("감사합니다", 5)])
def test_short_text_is_rejected_with_the_measured_value(text, count):
    """The contributor is told how many letters were counted and how many are needed."""
    [(rule, reason)] = filtered([text])
    assert rule == "too_short"
    assert reason == f"too short: {count} letters or digits (at least 8 are needed)"


@pytest.mark.parametrize(
    "text", [ARTICLE_1, "대한민국은 민주공화국이다", "The quick brown fox jumps over the lazy dog."]
)
def test_normal_sentences_pass(text):
    """Ordinary Korean (10+ syllables) and English sentences are accepted with an empty reason."""
    assert filtered([text]) == [("", "")]


# --- real text -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def petitions() -> list[str]:
    if not PETITIONS.exists():
        pytest.skip(f"corpus not available: {PETITIONS}")
    with gzip.open(PETITIONS, "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in islice(lines, 300)]
    assert len(texts) == 300
    return texts


def test_real_petitions_normalize_safely(petitions):
    """On real prose: idempotent, NFC everywhere, and never more tokens in total than before."""
    once = normalize(petitions)
    assert normalize(once) == once
    assert all(unicodedata.is_normalized("NFC", t) for t in once)
    assert sum(count_tokens(once, ENCODING)) <= sum(count_tokens(petitions, ENCODING))


def test_real_petitions_pass_the_filters(petitions):
    """Real citizen prose must not be thrown away by the quality rules: at least 97% of the first 300 petitions
    are paid. The ones that are not include every petition padded to length, which must earn nothing: #89 pastes
    a newspaper column twice, #194 is a run of '1', #228 repeats one word to fill the page and #297 says itself
    that it repeats its text to reach the minimum length."""
    verdicts = filtered(petitions)
    rejected = {i: rule for i, (rule, _) in enumerate(verdicts) if rule}
    assert len(rejected) <= 0.03 * len(petitions), rejected
    assert {89, 194, 228, 297} <= set(rejected), rejected
