"""Quality rules on real text (../shared/corpora, skipped where absent) and on generated junk.

Each rule is tested on its own (`apply_rules(frame, rules=[rule])`): a text it must reject and an honest text it
must keep. Then language detection, and the targets on bounded samples of the corpora: at least 97% of clean
long-form prose kept in each prose corpus, at least 95% of each kind of junk removed.
"""

from __future__ import annotations

import base64
import random
import textwrap
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from conftest import corpus
from onett_text.language import detect_language
from onett_text.normalize import normalize_text
from onett_text.quality import RULES, Rule, apply_rules, measured
from onett_text.quality.spam import held_out

RULE = {r.name: r for r in RULES}
ARTICLE_1 = "대한민국 헌법 제1조 대한민국은 민주공화국이다."


def frame(texts: list[str]) -> pl.DataFrame:
    return detect_language(pl.DataFrame({"text": texts}, schema={"text": pl.String}).select(normalize_text(pl.col("text"))))


def verdicts(texts: list[str], rules: list[Rule] = RULES) -> list[str]:
    return apply_rules(frame(texts), rules)["rejected_by"].to_list()


def kept_share(texts: list[str]) -> float:
    return verdicts(texts).count("") / len(texts)


# --- generated text ----------------------------------------------------------------------------------------------

SEED = 7


def sentences(words: list[str], rng: random.Random, per=(6, 14)) -> str:
    out, i = [], 0
    while i < len(words):
        k = rng.randint(*per)
        out.append(" ".join(words[i : i + k]) + ".")
        i += k
    return " ".join(out)


def random_hangul(n: int, pool: list[str], rng: random.Random, weights=None) -> str:
    words = ["".join(rng.choices(pool, weights=weights, k=rng.randint(1, 4))) for _ in range(n)]
    return sentences(words, rng)


def ks_x_1001() -> list[str]:
    return [bytes([a, b]).decode("euc_kr") for a in range(0xB0, 0xC9) for b in range(0xA1, 0xFF)]


def shuffled(text: str, rng: random.Random) -> str:
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
         "magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo "
         "consequat duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat").split()

ENGLISH = ("The committee met on Tuesday to discuss the budget for the coming year, and the members agreed that "
           "the city should spend more on its libraries and parks. Several residents spoke at the meeting. They "
           "asked the council to keep the branch libraries open in the evening, because many students have no quiet "
           "place to work at home. The mayor said that the proposal would be reviewed with the finance office and "
           "that a decision would be made before the end of the month. ")
KOREAN = ("위원회는 화요일에 회의를 열어 내년 예산을 논의하였고, 위원들은 시가 도서관과 공원에 더 많은 예산을 써야 한다는 데 "
          "의견을 모았다. 회의에서는 여러 주민이 발언하였다. 그들은 많은 학생들이 집에서 조용히 공부할 곳이 없으므로 분관 "
          "도서관을 저녁에도 열어 달라고 시의회에 요청하였다. 시장은 이 제안을 재정 담당 부서와 함께 검토하고 이달 말까지 "
          "결정을 내리겠다고 말하였다. ")
# An advance-fee letter written for these tests: plain, grammatical, and no mass-mail boilerplate phrase in it.
ADVANCE_FEE = (
    "Dear Friend, I am Mr. James Okoro, the manager of the audit department of a bank in Lagos. I am writing to "
    "seek your assistance in a strictly confidential business transaction. A foreign customer of our bank died in "
    "a plane crash and left the sum of US$18,500,000.00 (Eighteen Million Five Hundred Thousand United States "
    "Dollars) in an account with no next of kin. I want you to stand as the beneficiary so that the funds can be "
    "transferred into your bank account. You will receive 30% of the total sum for your assistance. This "
    "transaction is 100% legal and safe for you. Please reply urgently with your full name, private telephone and "
    "fax numbers. Yours faithfully, James Okoro"
)


# --- language detection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (ARTICLE_1, "ko"),
        (KOREAN, "ko"),
        ("Python에서 DataFrame을 groupby로 묶으면 polars가 lazy하게 계산합니다.", "ko"),  # Korean with English terms
        ("原審判決을 破棄하고 事件을 서울高等法院에 還送한다.", "ko"),  # older mixed-script decisions
        ("ㅋㅋㅋㅋ 진짜 웃기네 ㅠㅠ", "ko"),
        (ENGLISH, "en"),
        ("The Korean word 사랑 means love.", "en"),
        ("これは日本語の文章です。東京は日本の首都です。", "other"),
        ("Это предложение написано по-русски.", "other"),
        ("1234 5678 9012 !!! ???", "other"),
        ("", "other"),
    ],
)
def test_detect_language_by_script(text, language):
    assert frame([text])["language"].to_list() == [language]


def test_detect_language_on_real_corpora():
    """Every prose document of the Korean corpora is 'ko', of the English ones 'en' (empty ones are 'other')."""
    for name, file, language in (("ko_court_precedents", "precedents.jsonl.gz", "ko"), ("ko_laws", "laws.jsonl.gz", "ko"),
                                 ("en_state_of_the_union", "sotu.jsonl.gz", "en"),
                                 ("en_moby_dick", "moby_dick_chapters.jsonl.gz", "en")):
        docs = frame([d["text"] for d in corpus(name, file, limit=60)])
        assert docs.filter(pl.col("text") != "")["language"].unique().to_list() == [language], name


# --- each rule on its own ----------------------------------------------------------------------------------------


def positive_cases() -> dict[str, list[str]]:
    """A text each rule must reject (judged by that rule alone)."""
    rng = random.Random(SEED)
    hangul = [chr(c) for c in range(0xAC00, 0xD7A4)]
    common = ks_x_1001()
    real_freq = {}
    for ch in KOREAN * 3:
        if "가" <= ch <= "힣":
            real_freq[ch] = real_freq.get(ch, 0) + 1
    enum = " ".join(f"Item {i} of the list" for i in range(60))
    code = "\n".join("if (x > %d) { y = f(x); } else { z += 1; }" % i for i in range(30))
    return {
        "empty": ["", " \u200b\n\n "],
        "too_short": ["ㅋㅋㅋ", "ok!"],
        "too_long": [("word " * 100_001).strip()],
        "unsupported_language": ["これは日本語の文章です。東京は日本の首都です。", "1111111111"],
        "short_words": [sentences([rng.choice("abcdefgh") for _ in range(80)], rng),
                        sentences([rng.choice(common) for _ in range(80)], rng)],
        "long_words": [sentences(["".join(rng.choices("abcdefghijklmnop", k=14)) for _ in range(80)], rng),
                       " ".join(textwrap.wrap((KOREAN * 4).replace(" ", ""), 12))],  # Korean without spacing
        "hashtags": [ENGLISH + " ".join(f"#tag{i}" for i in range(40))],
        "ellipses": [" ".join(f"and then... we waited" for _ in range(30))],
        "bullet_lines": ["\n".join(f"- item number {i} of the long list" for i in range(60))],
        "ellipsis_lines": ["\n".join(f"This line trails off into nothing at all {i}..." for i in range(60))],
        "alphabetic_words": [" ".join(str(rng.randint(0, 10**6)) for _ in range(200)) + " " + ENGLISH],
        "markup": ["<html><body>" + "".join(f"<p class='x'>{ENGLISH}</p>" for _ in range(2)) + "</body></html>"],
        "long_tokens": [ENGLISH + " " + base64.b64encode(bytes(range(256)) * 8).decode()],
        "links": [" ".join(f"see https://example.com/page{i} for more" for i in range(30))],
        "stop_words": [sentences(["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(120)], rng),
                       random_hangul(150, hangul, rng)],
        "duplicate_lines": ["\n".join([ENGLISH.split(". ")[0] + "."] * 20), "\n".join([KOREAN.split(". ")[0] + "."] * 20)],
        "duplicate_paragraphs": ["\n\n".join([ENGLISH] * 3 + ["The end of the report."])],
        "duplicate_line_chars": ["\n".join([ENGLISH, ENGLISH, "And one more line to close it."])],
        "duplicate_paragraph_chars": ["\n\n".join([ENGLISH, ENGLISH, "And one more paragraph to close it."])],
        "top_2gram": [" ".join(["cheap loans"] * 40) + " " + ENGLISH],
        "top_3gram": [" ".join(["buy cheap loans"] * 40) + " " + ENGLISH],
        "top_4gram": [" ".join(["buy cheap loans now"] * 40) + " " + ENGLISH],
        **{f"duplicate_{n}grams": [(ENGLISH * 3).strip(), (KOREAN * 3).strip()] for n in range(5, 11)},
        "terminal_punctuation": ["\n".join(f"Section {i} heading without any sentence in it" for i in range(40))],
        "short_lines": ["\n".join(f"menu item {i}" for i in range(80))],
        "duplicate_line_chars_fineweb": ["\n".join([ENGLISH, ENGLISH.upper(), ENGLISH, "A closing remark for the record."])],
        "newlines_per_word": ["\n".join(ENGLISH.split())],
        "curly_brackets": [code + "\n" + ENGLISH],
        "boilerplate_phrases": [ENGLISH + " Click here to unsubscribe. To be removed from our mailing list, click here. "
                                "Order now, this is a limited time special offer."],
        "random_syllables": [random_hangul(100, hangul, rng)],
        "particle_first": [random_hangul(300, list(real_freq), rng, weights=list(real_freq.values()))],
        "lorem_ipsum": [sentences([rng.choice(LOREM) for _ in range(120)], rng)],
        "keyword_stuffing": [enum.replace("Item", "casino") + " " + " ".join(["casino"] * 60)],
        # three keywords taking turns: none above 0.25 of the words, together well above 0.4
        "keyword_stuffing_top3": [KOREAN.split(".")[0] + ". " + " ".join(["최저가 무료배송 대출출장"] * 25)],
        "word_salad": [shuffled(ENGLISH * 2, rng), shuffled(KOREAN * 3, rng)],
        "word_salad_long": [shuffled(KOREAN * 8, rng)],
        "word_salad_medium": [shuffled(" ".join(KOREAN.split()[:40]), random.Random(SEED + 3))],
        "word_salad_short": [shuffled(" ".join(KOREAN.split()[:25]), random.Random(SEED + 1))],
        "spam": [ADVANCE_FEE],
    }


POSITIVE = positive_cases()


def test_every_rule_has_a_test_case():
    assert set(POSITIVE) == set(RULE), set(RULE) ^ set(POSITIVE)


@pytest.mark.parametrize("name", list(RULE))
def test_rule_rejects_its_junk(name):
    """The rule alone rejects its case; the reason names the measured value and the threshold."""
    rule = RULE[name]
    judged = apply_rules(frame(POSITIVE[name]), [rule])
    assert judged["rejected_by"].to_list() == [name] * judged.height, judged.select("text", "language", "reason")
    assert judged["filter_group"].to_list() == [rule.group] * judged.height
    for reason in judged["reason"]:
        assert reason and "{" not in reason
        if "{value}" in rule.explain:
            assert any(ch.isdigit() for ch in reason)


@pytest.fixture(scope="module")
def honest() -> list[str]:
    """Honest prose: the embedded paragraphs and a few real documents of each prose corpus."""
    texts = [ENGLISH, KOREAN]
    for name, file in (("ko_court_precedents", "precedents.jsonl.gz"), ("ko_petitions", "petitions.jsonl.gz"),
                       ("en_state_of_the_union", "sotu.jsonl.gz"), ("en_moby_dick", "moby_dick_chapters.jsonl.gz")):
        try:
            docs = corpus(name, file, limit=12)
        except pytest.skip.Exception:
            continue
        texts += [d["text"] for d in docs if len(d["text"].split()) >= 60][:5]
    return texts


@pytest.mark.parametrize("name", list(RULE))
def test_rule_keeps_honest_prose(name, honest):
    judged = apply_rules(frame(honest), [RULE[name]])
    assert judged.filter(pl.col("rejected_by") != "").select("reason", "text").rows() == []


def test_first_failing_rule_wins_and_kept_documents_have_empty_columns():
    judged = apply_rules(frame(["", "ㅋㅋ", "\n".join(["같은 줄이 계속 반복됩니다."] * 30), KOREAN]))
    assert judged["rejected_by"].to_list() == ["empty", "too_short", "duplicate_lines", ""]
    assert judged["filter_group"].to_list() == ["length", "length", "gopher_repetition", ""]
    assert judged["reason"][3] == ""
    assert judged["reason"][2] == "96.7% of the lines repeat an earlier line (at most 37.4%)"


def test_apply_rules_detects_the_language_when_missing_and_keeps_other_columns():
    plain = pl.DataFrame({"text": [KOREAN, ENGLISH], "doc_id": ["a", "b"]})
    judged = apply_rules(plain)
    assert judged.columns == ["text", "doc_id", "language", "rejected_by", "filter_group", "reason"]
    assert judged["language"].to_list() == ["ko", "en"] and judged["rejected_by"].to_list() == ["", ""]
    assert apply_rules(plain.head(0)).height == 0


def test_thresholds_switch_off_per_language():
    text = "\n".join(["같은 줄이 계속 반복됩니다."] * 30)
    assert apply_rules(frame([text]), [RULE["duplicate_lines"]])["rejected_by"].to_list() == ["duplicate_lines"]
    english_only = replace(RULE["duplicate_lines"], thresholds={"en": 0.3})  # Korean switched off
    assert apply_rules(frame([text]), [english_only])["rejected_by"].to_list() == [""]


def test_measures_are_plain_numbers_for_every_document():
    m = measured(frame(["", KOREAN, ENGLISH, "<p>x</p>"]))
    assert m.height == 4
    numeric = m.drop("language")
    assert all(numeric[c].null_count() == 0 for c in numeric.columns)
    assert m["words"].to_list()[:3] == [0, len(KOREAN.split()), len(ENGLISH.split())]


# --- targets on bounded samples of the corpora -------------------------------------------------------------------

PROSE = [("ko_court_precedents", "precedents.jsonl.gz", 600), ("ko_laws", "laws.jsonl.gz", 63),
         ("ko_petitions", "petitions.jsonl.gz", 600), ("en_state_of_the_union", "sotu.jsonl.gz", 80),
         ("en_moby_dick", "moby_dick_chapters.jsonl.gz", 135)]


@pytest.mark.parametrize(("name", "file", "limit"), PROSE, ids=[p[0] for p in PROSE])
def test_clean_prose_is_kept(name, file, limit):
    """At least 97% of each prose corpus is paid (empty documents count as rejected)."""
    texts = [d["text"] for d in corpus(name, file, limit=limit)]
    assert kept_share(texts) >= 0.97


def test_raw_html_is_removed():
    for name, file in (("ko_libreoffice_help_html", "help_pages.jsonl.gz"), ("web_boilerplate_samples", "warc_html_pages.jsonl.gz")):
        texts = [d["text"] for d in corpus(name, file, limit=150)]
        assert kept_share(texts) <= 0.05, name


def spam() -> list[str]:
    return [d["text"] for d in corpus("en_spamassassin_emails", "emails_body.jsonl.gz") if d["label"] == "spam"][:600]


def test_spam_markup_links_and_boilerplate_are_removed():
    """What the rules can see in spam (HTML, encoded parts, links, mass-mail boilerplate) removes most of it, even
    without the spam classifier."""
    texts = spam()
    assert 1 - verdicts(texts, [r for r in RULES if r.name != "spam"]).count("") / len(texts) >= 0.80


def test_spam_target_95_percent():
    """At least 95% of the spam is removed, measured on the held-out half of the mail (spam.held_out), which the spam
    classifier never saw in training. Advance-fee and sales letters in plain, grammatical English pass every quality
    rule (those alone remove about 86%); the classifier of the rule `spam` catches most of them (together: 97%)."""
    texts = [d["text"] for d in corpus("en_spamassassin_emails", "emails_body.jsonl.gz")
             if d["label"] == "spam" and held_out(d["md5"])]
    assert 1 - kept_share(texts) >= 0.95


@pytest.fixture(scope="module")
def real_docs() -> dict[str, list[str]]:
    ko = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=400) if 80 <= len(d["text"].split()) <= 2000]
    en = [d["text"] for d in corpus("en_moby_dick", "moby_dick_chapters.jsonl.gz")]
    return {"ko": ko[:60], "en": en[:60]}


def generated_junk(real: dict[str, list[str]]) -> dict[str, list[str]]:
    rng = random.Random(SEED + 1)
    hangul, common = [chr(c) for c in range(0xAC00, 0xD7A4)], ks_x_1001()
    freq: dict[str, int] = {}
    for t in real["ko"]:
        for ch in t:
            if "가" <= ch <= "힣":
                freq[ch] = freq.get(ch, 0) + 1
    pool, weights = list(freq), list(freq.values())
    sizes = [rng.randint(60, 900) for _ in range(40)]
    both = real["ko"][:30] + real["en"][:30]
    return {
        "random Hangul (all)": [random_hangul(n, hangul, rng) for n in sizes],
        "random Hangul (KS X 1001)": [random_hangul(n, common, rng) for n in sizes],
        "random Hangul (real frequencies)": [random_hangul(n, pool, rng, weights) for n in sizes],
        "random Latin": [sentences(["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(1, 10))) for _ in range(n)], rng) for n in sizes],
        "lorem ipsum": [sentences([rng.choice(LOREM) for _ in range(n)], rng) for n in sizes],
        "word salad": [shuffled(t, rng) for t in both],
        "one line repeated": ["\n".join([max(t.split(". "), key=len)[:200]] * rng.randint(10, 80)) for t in both],
        "pasted several times": [("\n\n" if i % 2 else " ").join([t] * rng.randint(2, 4)) for i, t in enumerate(both)],
        "keyword stuffing": [
            " ".join(s + " " + " ".join([kw] * rng.randint(4, 12)) for s in t.split(". ")[:4])
            for t, kw in zip(both, ["대출", "casino", "다이어트", "cheap pills"] * 15)
        ],
    }


def test_generated_filler_is_removed(real_docs):
    """At least 95% of every kind of generated filler is rejected."""
    if not real_docs["ko"] or not real_docs["en"]:
        pytest.skip("real documents needed to build filler")
    removed = {kind: 1 - kept_share(texts) for kind, texts in generated_junk(real_docs).items()}
    assert {k: v for k, v in removed.items() if v < 0.95} == {}, removed


def test_short_texts_are_mostly_kept():
    """Short honest texts (chat questions and answers) are judged by length and filler rules only."""
    texts = [d["text"] for d in corpus("ko_chatbot_qa", "chatbot_qa.jsonl.gz", limit=2000)]
    assert kept_share(texts) >= 0.95


def test_measurement_is_deterministic():
    texts = [KOREAN, ENGLISH, shuffled(KOREAN * 3, random.Random(1))]
    a, b = measured(frame(texts)), measured(frame(texts))
    assert a.equals(b)
    assert np.isfinite(a.drop("language").to_numpy().astype(float)).all()
