"""Token counts: the count of a document before masking and clean-up is derived from its count after them by
tokenizing only the lines that differ. It must equal tokenizing the whole text, on real documents and on the
cases the argument in tokens.py rests on."""

from __future__ import annotations

import polars as pl
import pytest

from conftest import corpus
from onett_text.normalize import compose, remove_invisible, tidy_whitespace
from onett_text.pii import mask_pii
from onett_text.tokens import TOKEN_START, count_tokens, recount

# Personal data in mail headers and book licences, Unicode clean-up in statutes, petitions and web pages.
CHANGED = [("en_spamassassin_emails", "emails_body.jsonl.gz"), ("en_spamassassin_emails", "emails_raw_sample.jsonl.gz"),
           ("en_gutenberg_editions", "editions.jsonl.gz"), ("ko_laws", "laws.jsonl.gz"),
           ("ko_petitions", "petitions.jsonl.gz"), ("web_boilerplate_samples", "warc_html_pages.jsonl.gz")]


def _before_and_after(texts: list[str]) -> tuple[list[str], list[str]]:
    """(the upload with its whitespace tidied, the same after clean-up and masking), for the documents that
    differ: what `preprocess` counts twice."""
    raw = pl.DataFrame({"text": texts})
    before = raw.select(tidy_whitespace(pl.col("text")))["text"]
    cleaned = compose(raw.select(remove_invisible(pl.col("text")))["text"])
    after = mask_pii(cleaned.to_frame().select(tidy_whitespace(pl.col("text"))))["text"]
    differ = (before != after).fill_null(True)
    return before.filter(differ).to_list(), after.filter(differ).to_list()


@pytest.mark.parametrize("name,file", CHANGED)
def test_recount_equals_tokenizing_the_whole_text_on_real_documents(name, file):
    texts = [d[k] for d in corpus(name, file) for k in ("text", "text_a", "text_b") if isinstance(d.get(k), str)]
    before, after = _before_and_after(texts)
    assert before, f"{name}/{file}: no document changed by masking or clean-up"
    derived = recount(after, count_tokens(after, "cl100k_base"), before, "cl100k_base")
    assert derived == count_tokens(before, "cl100k_base"), name


EDGES = [
    # (after, before): a change on the first, a middle and the last line; lines starting with spaces, tabs,
    # punctuation, digits, contractions and CJK; CRLF; trailing newlines; lines added or removed
    ("Mail [EMAIL] now.\nSecond line.\n", "Mail john@example.com now.\nSecond line.\n"),
    ("Hello.\n  [PHONE] is mine\n'tis true\n", "Hello.\n  010-1234-5678 is mine\n'tis true\n"),
    ("a\r\n[EMAIL]\r\n\r\n...and more\n", "a\r\nx@y.kr\r\n\r\n...and more\n"),
    ("제목\n\n연락처: [PHONE]\n123 Main St.\n", "제목\n\n연락처: 02-123-4567\n123 Main St.\n"),
    ("end.\n\t[CARD]\n!!!\n", "end.\n\t4111 1111 1111 1111\n!!!\n"),
    ("one line [EMAIL]", "one line a@b.co"),
    ("first\nsecond\n", "first\n\nsecond\nthird\n"),
    ("x\n", "x\n\n\n"),
    ("", "something"),
]


@pytest.mark.parametrize("after,before", EDGES)
def test_recount_equals_tokenizing_the_whole_text_at_the_edges(after, before):
    assert recount([after], count_tokens([after], "cl100k_base"), [before], "cl100k_base") == \
        count_tokens([before], "cl100k_base")


def test_lines_cut_where_a_token_starts():
    assert TOKEN_START.split("a\nb\n c\n\nd") == ["a\n", "b\n c\n\n", "d"]


def test_the_fast_encoder_gives_tiktoken_s_tokens_on_every_shared_corpus_document():
    """Counts are paid: bpe-openai's token ids must be tiktoken's on every document of every shared corpus (the
    raw text and, for the long ones, as cut into pieces), and a disagreement must stop a batch."""
    import gzip
    import json

    import numpy as np

    from conftest import CORPORA
    from onett_text.tokens import PIECE_CHARS, TokenizerMismatch, encode, fast_encoding, load_encoding, verify

    if fast_encoding("cl100k_base") is None:
        pytest.skip("bpe-openai is not installed: tiktoken counts alone")
    paths = sorted(CORPORA.glob("*/*.jsonl.gz"))
    if not paths:
        pytest.skip("shared corpora not available")
    reference = load_encoding("cl100k_base")
    documents = pieced = 0
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                doc = json.loads(line)
                for text in (doc.get(k) for k in ("text", "text_a", "text_b")):
                    if not isinstance(text, str):
                        continue
                    expected = reference.encode_to_numpy(text, disallowed_special=())
                    assert np.array_equal(encode(text, "cl100k_base"), expected), (path.parent.name, doc.get("id"))
                    documents += 1
                    pieced += len(text) > PIECE_CHARS
    assert documents > 300_000 and pieced > 100
    # a special token's text is plain text, as tiktoken's encode_ordinary has it
    assert encode("<|endoftext|> hi", "cl100k_base").tolist() == reference.encode_ordinary("<|endoftext|> hi")
    texts = ["가나다 " * 10, "one two three"]
    assert verify(texts, [encode(t, "cl100k_base") for t in texts], "cl100k_base", every=1) == 2
    with pytest.raises(TokenizerMismatch, match="disagree"):
        verify(texts, [encode(t, "cl100k_base") for t in texts][::-1], "cl100k_base", every=1)
