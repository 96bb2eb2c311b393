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
    # the difference at the very start or end, one text the other's end, differences thousands of characters apart
    ("[EMAIL] wrote\nhi", "john.smith@example.com wrote\nhi"), ("tail\nsame", "head\ntail\nsame"), ("x\n y", "x\n y\n"),
    ("가나\n" * 3000 + "[EMAIL]\n" + " b\n" * 2000 + "[PHONE]", "가나\n" * 3000 + "a@b.kr\n" + " b\n" * 2000 + "010-1234-5678"),
    ("a.\n" * 5000 + "b\n" * 5000, "a.\n" * 5000 + "new\n\n" + "b\n" * 5000),
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


def test_the_longest_text_of_a_batch_is_checked_on_its_head_across_a_cut_between_pieces():
    """The run-time check reads the longest text of a batch only up to a token start near 2 * PIECE_CHARS: on
    books and statutes that head's tiktoken ids begin the whole text's ids, it holds the cut `encode` makes after its
    first piece, and a wrong id inside it still stops the batch (one beyond it is left to the test above)."""
    import numpy as np

    from onett_text.tokens import PIECE_CHARS, TokenizerMismatch, _head, _pieces, encode, fast_encoding, \
        load_encoding, verify

    if fast_encoding("cl100k_base") is None:
        pytest.skip("bpe-openai is not installed: tiktoken counts alone")
    reference = load_encoding("cl100k_base")
    books = [d["text"] for d in corpus("en_gutenberg_editions", "editions.jsonl.gz")
             if len(d["text"]) > 3 * PIECE_CHARS][:6]
    statutes = sorted((d["text"] for d in corpus("ko_laws", "laws.jsonl.gz")), key=len)[-3:]
    longs = books + [t for t in statutes if len(t) > 2 * PIECE_CHARS]
    assert len(books) >= 3 and len(longs) > len(books)
    for text in longs:
        head, ids = _head(text), encode(text, "cl100k_base")
        assert PIECE_CHARS < len(head) <= 2 * PIECE_CHARS and TOKEN_START.match(text, len(head))
        assert len(_pieces(text)[0]) < len(head)  # the first cut between pieces lies inside the head
        expected = reference.encode_to_numpy(head, disallowed_special=())
        assert np.array_equal(ids[:len(expected)], expected)
        short = ["가나다 라마바 " * 20, "one two three four"]
        texts = short + [text]
        good = [encode(t, "cl100k_base") for t in texts]
        assert verify(texts, good, "cl100k_base", every=64) == 2  # the first text and the longest
        inside, beyond = good[:2] + [ids.copy()], good[:2] + [ids.copy()]
        inside[2][len(expected) - 1] += 1
        with pytest.raises(TokenizerMismatch, match=f"its first {len(head):,}"):
            verify(texts, inside, "cl100k_base", every=64)
        beyond[2][len(expected)] += 1
        assert verify(texts, beyond, "cl100k_base", every=64) == 2
    assert _head("short text\nof two lines") == "short text\nof two lines"
    one_line = "가" * (3 * PIECE_CHARS)
    assert _head(one_line) == one_line  # no token start to cut at: checked whole
