"""Measures counted by a regular expression over the whole frame: HTML/XML markup and web or mass-mail
boilerplate phrases. Both patterns start with a literal, so the regex engine skips through the text quickly, and
each runs only on the documents that can match."""

from __future__ import annotations

import numpy as np
import polars as pl

from onett_text.quality.measure import frame_measure, ratio
from onett_text.quality.words import words

# HTML / XML markup: a known tag name after '<' or '</' (so '<nick>' in a chat log and '<개정 2015.11.16>' in a
# statute are not markup), comments and doctype declarations
MARKUP = (r"(?i)</?(?:a|abbr|b|body|blockquote|br|button|center|code|dd|div|dl|dt|em|font|form|h[1-6]|head|hr|html|i|"
          r"iframe|img|input|label|li|link|meta|nav|noscript|ol|option|p|pre|script|select|small|span|strong|style|"
          r"sub|sup|table|tbody|td|th|thead|title|tr|u|ul)(?:\s[^<>]{0,400})?/?>|<!--|<!doctype")
# Boilerplate phrases (English): C4's web boilerplate (javascript, cookies, privacy policy, terms of use) and the
# mass-mail equivalents (unsubscribe and removal instructions, click here, order now). Honest prose may use one
# now and then; boilerplate repeats them.
POLICY = (
    r"(?i)\b(?:javascript|cookies? policy|(?:uses?|use of) cookies|privacy policy|terms of (?:use|service)|"
    r"unsubscribe|opt[- ]?(?:out|in)|remov(?:e|al) (?:yourself|you|your (?:name|address|e-?mail))|to be removed|"
    r"be removed from|removal (?:link|instructions|request)|no longer wish to receive|do not wish to receive|"
    r"mailing list|this (?:e-?mail|message) (?:is|was) sent|order now|call now|act now|"
    r"click (?:here|below|on the link)|limited time|money back|no obligation|risk[- ]free|100% (?:free|guaranteed)|"
    r"toll[- ]free|free (?:gift|trial|info|information)|special offer|visit our (?:web ?site|site))\b"
).replace(r"\b", r"(?-u:\b)")  # ASCII word boundaries: the phrases are ASCII, and Unicode \b is much slower

t = pl.col("text")


@frame_measure
def markup_tags(frame: pl.DataFrame) -> pl.Series:
    """HTML/XML tags (MARKUP), counted in every document; every match starts with '<', so the regex runs only on
    the few documents that have one."""
    angle = frame["text"].str.contains("<", literal=True).fill_null(False)
    markup = np.zeros(frame.height, np.uint32)
    if angle.any():
        markup[angle.to_numpy()] = frame.filter(angle).select(t.str.count_matches(MARKUP)).to_series().to_numpy()
    return pl.Series(markup, dtype=pl.UInt32)


@frame_measure
def boilerplate_phrases(frame: pl.DataFrame) -> np.ndarray:
    """Web boilerplate and mass-mail phrases (POLICY), counted in English documents only (C4 is English)."""
    english = frame["language"] == "en"
    policy = np.zeros(frame.height, np.int64)
    if english.any():
        policy[english.to_numpy()] = frame.filter(english).select(t.str.count_matches(POLICY)).to_series().to_numpy()
    return policy


markup_ratio = ratio("markup_ratio", markup_tags, words, "HTML/XML tags per word")
boilerplate_per_100_words = ratio("boilerplate_per_100_words", boilerplate_phrases, words,
                                  "boilerplate phrases per 100 words", scale=100)
