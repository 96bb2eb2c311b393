"""Which language a document is written in, from its letters alone (offline, no model).

The platform accepts Korean and English, and the two are told apart with certainty by their scripts: Hangul is
used by no other language, and the rules that depend on the language (stop words, thresholds measured in Korean
eojeol or English words) only need to know which of the two writing systems carries the text. Distinguishing
English from other Latin-script languages is left to the English stop-word rule, which a French or German text
fails just as it fails the rule.

- 'ko': Hangul makes up at least a quarter of the Hangul and Latin letters. A Hangul syllable carries about as
  much text as three Latin letters (an eojeol averages 3.3 syllables, an English word 4.7 letters), so a quarter
  of the letters means Korean is at least as present as English; Korean with English terms and code stays Korean.
  Hanja (Chinese characters) count as Korean script when Hangul is present, as in older court decisions.
- 'en': Latin letters, otherwise.
- 'other': no letters at all, or fewer than half of the letters are Hangul, Latin (or Hanja beside Hangul):
  Japanese, Chinese, Cyrillic, Thai... and documents of digits and symbols only.

Measured (share of Hangul among Hangul + Latin letters): every document of ko_court_precedents and ko_laws is at
least 0.79, 99% of ko_petitions at least 0.85; every English corpus is at most 0.014; LibreOffice's Korean help
pages as raw HTML are at most 0.23 (mostly markup: 'en', and rejected as markup by the later rules).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from onett_text.charclass import HAN, HANGUL, JAMO, LATIN, LETTER
from onett_text.scan import class_counts

KOREAN_MIN_SHARE = 0.25  # Hangul among Hangul + Latin letters
KNOWN_SCRIPT_MIN_SHARE = 0.5  # Hangul + Latin (+ Hanja with Hangul) among all letters


def script_counts(texts: pl.Series) -> dict[str, np.ndarray]:
    """Per text: letters, Hangul (syllables and jamo), Latin letters and Hanja, from one pass over the code points."""
    counts, patterns = class_counts(texts.fill_null(""))

    def total(bits: int) -> np.ndarray:
        return counts[:, (patterns & bits) != 0].sum(axis=1)

    return {"letters": total(LETTER), "hangul": total(HANGUL | JAMO), "latin": total(LATIN), "han": total(HAN)}


def languages(letters: np.ndarray, hangul: np.ndarray, latin: np.ndarray, han: np.ndarray) -> np.ndarray:
    letters, hangul, latin, han = (np.asarray(a, np.float64) for a in (letters, hangul, latin, han))
    known = hangul + np.where(hangul > 0, han, 0.0) + latin
    out = np.where(hangul >= KOREAN_MIN_SHARE * (hangul + latin), "ko", "en").astype(object)
    out[(letters == 0) | (known < KNOWN_SCRIPT_MIN_SHARE * letters)] = "other"
    return out


def detect_language(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds `language`: 'ko', 'en' or 'other', from the normalized `text`."""
    c = script_counts(frame["text"])
    return frame.with_columns(language=pl.Series(languages(**c), dtype=pl.String))
