"""Rewrites that touch only the texts a pattern is in give the column a rewrite of every text gives."""

import polars as pl

from onett_text.normalize import remove_invisible, tidied, tidy_whitespace, visible
from onett_text.rewrite import replace_where, rewrite_where
from tests.conftest import corpus

ODD = ["", " ", "\u3000", "a\r\nb", "a\rb", " \t lead", "trail \u00a0", "x\n\n\n\ny", "z\u200b\u200bw", "c\x07d",
       "\u0085x\u0085", "a  b", "\ufeffbom", "x \n y", "\n\n", "a\u2028b", "  \n  \n  ", "plain", None]


def _real_texts() -> list[str]:
    """Web pages, e-mail and HTML help: carriage returns, control characters, runs of spaces and blank lines."""
    return [doc["text"] for name, file in (("web_boilerplate_samples", "warc_html_pages.jsonl.gz"),
                                           ("en_spamassassin_emails", "emails_raw_sample.jsonl.gz"),
                                           ("ko_libreoffice_help_html", "help_pages.jsonl.gz"),
                                           ("ko_petitions", "petitions.jsonl.gz"))
            for doc in corpus(name, file, limit=300)]


def test_replacing_where_the_pattern_is_equals_replacing_everywhere_and_leaves_the_input_alone():
    texts = pl.Series(["a1b22c333", "none here", None, "", "44 55"] * 3)
    kept = texts.clone()
    assert replace_where(texts, "[0-9]+", "#").equals(texts.str.replace_all("[0-9]+", "#"))
    assert texts.equals(kept)


def test_a_second_pass_runs_on_what_the_first_changed():
    # "111 222 333": the first pass consumes the space after 111, which 222 needs as its left neighbour
    texts = pl.Series(["111 222 333", "x", "444"])
    pattern, replacement = r"(^|[^0-9])[0-9]{3}([^0-9]|$)", "${1}N${2}"
    once = texts.str.replace_all(pattern, replacement)
    twice = once.str.replace_all(pattern, replacement)
    assert replace_where(texts, pattern, replacement, passes=2).to_list() == twice.to_list() == ["N N N", "x", "N"]
    assert not once.equals(twice)


def test_rewriting_where_found_keeps_the_others_and_the_input():
    texts = pl.Series(["A b", "c d", None, "E"])
    kept = texts.clone()
    assert rewrite_where(texts, "[A-Z]", lambda t: t.str.to_lowercase()).to_list() == ["a b", "c d", None, "e"]
    assert texts.equals(kept)


def test_tidied_and_visible_equal_the_expressions_on_real_and_odd_texts():
    texts = pl.Series("text", ODD + _real_texts(), dtype=pl.String)
    frame = texts.to_frame()
    expected_visible = frame.select(remove_invisible(pl.col("text")))["text"]
    expected_tidy = frame.select(tidy_whitespace(pl.col("text")))["text"]
    assert visible(texts).equals(expected_visible)
    assert tidied(texts).equals(expected_tidy)
    assert (expected_tidy != texts).sum() > 100  # the real texts do need tidying: the test compares rewrites
