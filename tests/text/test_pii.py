"""Personal data masking: every kind is masked in realistic sentences, ordinary numbers are left alone,
masking twice changes nothing, and on real Korean text masking only ever touches PII-like strings."""

from __future__ import annotations

import re

import polars as pl
import pytest

from conftest import corpus
from onett_text.normalize import normalize_text
from onett_text.pii import PII_KINDS, PLACEHOLDERS, mask_pii

RRN, PHONE, EMAIL, CARD, ACCOUNT = (PLACEHOLDERS[k] for k in PII_KINDS)


def masked(texts: list[str]) -> pl.DataFrame:
    return mask_pii(pl.DataFrame({"text": texts}, schema={"text": pl.String}))


def mask(text: str) -> str:
    return masked([text])["text"][0]


def counts(text: str) -> dict[str, int]:
    row = masked([text]).row(0, named=True)
    return {k.removeprefix("pii_"): row[k] for k in PII_KINDS if row[k]}


def luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()][::-1]
    return sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10 == 0


def old_rrn_checksum(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d * w for d, w in zip(digits, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]))
    return (11 - total % 11) % 10 == digits[12]


# --- each kind in realistic sentences ----------------------------------------------------------


def test_phone_and_email_in_one_sentence_keep_the_sentence():
    text = "연락처는 010-1234-5678이고 이메일은 hong@example.co.kr입니다"
    assert mask(text) == f"연락처는 {PHONE}이고 이메일은 {EMAIL}입니다"
    assert counts(text) == {"phone": 1, "email": 1}


@pytest.mark.parametrize(
    "number",
    [
        "900101-1234567",  # fails the pre-2020 check digit: still masked (numbers since Oct 2020 have none)
        "900101 1234567",
        "9001011234567",
        "051231-4123456",  # born 2005
        "210315-4123456",  # born 2021
        "850315-5123456",  # alien registration number (외국인등록번호)
        "900101-1******",  # half-masked: still gives away birth date and sex
    ],
)
def test_resident_registration_numbers_are_masked(number):
    assert mask(f"주민등록번호 {number}로 신청했습니다.") == f"주민등록번호 {RRN}로 신청했습니다."
    assert counts(f"주민등록번호 {number}") == {"rrn": 1}


def test_the_old_rrn_check_digit_is_not_required():
    assert not old_rrn_checksum("9001011234567") and old_rrn_checksum("9001011234568")
    assert mask("900101-1234567") == mask("900101-1234568") == RRN


@pytest.mark.parametrize(
    "not_rrn",
    [
        "900101-9234567",  # 9 in the seventh place: born in the 1800s
        "901301-1234567",  # month 13
        "900132-1234567",  # day 32
        "000000-0000000",  # the placeholder courts use
        "114621-0042900",  # a corporate registration number with no date-like head
        "900101-12345678",  # one digit too many
        "2012121300109",  # a date-stamped news article number, as in .../2012121300109.html
    ],
)
def test_rrn_lookalikes_are_not_masked(not_rrn):
    assert mask(f"번호 {not_rrn} 참조") == f"번호 {not_rrn} 참조"


def test_valid_card_is_masked_and_an_invalid_one_is_not():
    assert luhn("4111 1111 1111 1111") and not luhn("4111 1111 1111 1112")
    text = "카드번호 4111 1111 1111 1111로 결제했고 4111 1111 1111 1112는 오타입니다."
    assert mask(text) == f"카드번호 {CARD}로 결제했고 4111 1111 1111 1112는 오타입니다."
    assert counts(text) == {"card": 1}


@pytest.mark.parametrize(
    "card",
    [
        "5500-0000-0000-0004",  # Mastercard, hyphens
        "4111111111111111",  # bare 16 digits
        "3782 822463 10005",  # Amex 4-6-5
        "378282246310005",  # Amex bare 15
        "9410-1234-5678-9010",  # Korean domestic-only card, grouped
    ],
)
def test_card_forms(card):
    assert luhn(card)
    assert mask(f"결제 카드: {card} (일시불)") == f"결제 카드: {CARD} (일시불)"


def test_space_grouped_card_does_not_swallow_following_digits():
    assert mask("4111 1111 1111 1111 12개월 할부") == f"{CARD} 12개월 할부"


@pytest.mark.parametrize(
    "bank, account",
    [
        ("국민은행", "123456-01-123456"),
        ("신한은행", "110-123-456789"),
        ("우리은행", "1002-123-456789"),
        ("카카오뱅크", "3333-01-1234567"),
        ("농협", "301-1234-5678-91"),
        ("새마을금고", "9002-1234-5678-9"),
    ],
)
def test_bank_accounts_are_masked(bank, account):
    text = f"{bank} {account}로 입금해 주세요."
    assert mask(text) == f"{bank} {ACCOUNT}로 입금해 주세요."
    assert counts(text) == {"account": 1}


@pytest.mark.parametrize(
    "phone",
    [
        "010-1234-5678", "010.1234.5678", "010 1234 5678", "01012345678", "011-234-5678",
        "02-734-5678", "02-2123-4567", "031-828-4782", "044-201-3129", "070-8765-4321",
        "(02) 734-5678", "02)734-5678", "(010)1234-5678",
        "+82-10-1234-5678", "+82 10 1234 5678", "+821012345678", "+82 (0)2 734 5678",
    ],
)
def test_korean_phone_forms(phone):
    assert mask(f"문의: {phone}로 연락 바랍니다") == f"문의: {PHONE}로 연락 바랍니다"


def test_english_text_phone_and_email():
    text = "Call me at (617) 555-0123 or +1 617.555.0199, or write to jane.doe+work@mail.example.com."
    assert mask(text) == f"Call me at {PHONE} or {PHONE}, or write to {EMAIL}."
    assert counts(text) == {"phone": 2, "email": 1}


def test_counts_per_kind_in_one_document():
    text = (
        "신청인 홍길동(900101-1234567), 휴대폰 010-1234-5678, 자택 02-734-5678, "
        "메일 hong@example.com, gildong.hong@naver.com, 환불계좌 신한 110-123-456789, "
        "카드 5500-0000-0000-0004"
    )
    assert counts(text) == {"rrn": 1, "phone": 2, "email": 2, "card": 1, "account": 1}
    assert mask(text) == (
        f"신청인 홍길동({RRN}), 휴대폰 {PHONE}, 자택 {PHONE}, 메일 {EMAIL}, {EMAIL}, "
        f"환불계좌 신한 {ACCOUNT}, 카드 {CARD}"
    )


def test_values_separated_by_one_character_are_all_masked():
    text = "010-1234-5678 010-2345-6789/010-3456-7890,02-734-5678"
    assert mask(text) == f"{PHONE} {PHONE}/{PHONE},{PHONE}"
    assert counts(text) == {"phone": 4}


def test_email_digits_are_not_taken_by_the_phone_pattern():
    assert mask("01012345678@naver.com 으로 보내주세요") == f"{EMAIL} 으로 보내주세요"


# --- what must not be masked ------------------------------------------------------------------

NOT_PII = [
    "2024-01-15", "2024.01.15", "2024. 1. 15.", "02.03.2024", "1998년", "14:30",
    "1,234,567원", "12,000,000,000원", "3.14159265358979",
    "제3조 제2항", "제123조", "법률 제17219호", "대법원 2019다12345 판결", "서울고등법원 2018누12345",
    "ISBN 978-89-7914-123-4", "ISBN 0201758474", "v1.2.3", "버전 10.0.19045",
    "4006381333931",  # EAN-13 barcode (fails Luhn; bare 13-digit runs are never card candidates)
    "4111111111111112",  # 16 digits failing Luhn
    "424245737585537024",  # 18-digit widget id that happens to pass Luhn
    "1588-1234", "123-4567", "080-123-4567", "0212345678",  # business / local / toll-free / bare landline
    "Boston, MA 02111-1307",  # US ZIP+4
    "123-45-67890",  # 사업자등록번호 (published by law on every receipt)
    "10-2019-0012345", "1146-1996-123456", "11204-0470-7556",  # patent / registry / registered mail
    "품목번호 1201-00-1000",  # HSK tariff code
    "https://news.example.com/2100-1023-961138.html", "https://blog.naver.com/abc/221053494355",
    "192.168.0.1", "+353-1-700-5273",
]


@pytest.mark.parametrize("text", NOT_PII)
def test_ordinary_numbers_are_not_masked(text):
    assert mask(text) == text
    assert counts(text) == {}


def test_korean_barcode_with_a_date_like_head_is_masked_as_rrn_knowingly():
    """Documented over-masking: 880 + 1 + 23... reads as 88-01-23, sex digit 4. Privacy wins."""
    assert mask("바코드 8801234567890") == f"바코드 {RRN}"


# --- idempotence and frame shape --------------------------------------------------------------


def test_masking_twice_changes_nothing_more():
    texts = [
        "연락처는 010-1234-5678이고 이메일은 hong@example.co.kr입니다",
        "주민등록번호 900101-1234567, 카드 4111 1111 1111 1111, 국민은행 123456-01-123456",
        *NOT_PII,
    ]
    once = masked(texts)
    twice = mask_pii(once.select("text"))
    assert twice["text"].to_list() == once["text"].to_list()
    assert twice.select(PII_KINDS).sum().row(0) == (0, 0, 0, 0, 0)


def test_frame_shape_other_columns_nulls_and_empty():
    frame = pl.DataFrame({"doc_id": ["a", "b", "c"], "text": ["010-1234-5678", None, ""]})
    out = mask_pii(frame)
    assert out.columns == ["doc_id", "text", *PII_KINDS]
    assert all(out.schema[k] == pl.Int64 for k in PII_KINDS)
    assert out["doc_id"].to_list() == ["a", "b", "c"]
    assert out["text"].to_list() == [PHONE, None, ""]
    assert out["pii_phone"].to_list() == [1, 0, 0]
    empty = mask_pii(pl.DataFrame({"text": []}, schema={"text": pl.String}))
    assert empty.height == 0 and empty.columns == ["text", *PII_KINDS]


# --- real text --------------------------------------------------------------------------------


def masked_values(before: str, after: str) -> list[tuple[str, str]]:
    """(placeholder, original value) pairs, recovered by aligning the masked text on the original."""
    any_placeholder = "|".join(re.escape(p) for p in PLACEHOLDERS.values())
    parts = re.split(f"({any_placeholder})", after)
    pattern = "".join("(.+?)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    match = re.fullmatch(pattern, before, flags=re.DOTALL)
    assert match, "masking changed text outside the placeholders"
    return list(zip(parts[1::2], match.groups()))


LOOKS_LIKE = {
    RRN: r"[0-9]{6}[- ]?[0-9*]{7}",
    PHONE: r"[0-9 ()+.\-]{9,17}",
    EMAIL: r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}",
    CARD: r"[0-9 \-]{15,23}",
    ACCOUNT: r"[0-9\-]{12,17}",
}

# What the first 2,000 documents hold (looked at one by one; digits anonymized here):
#   petitions, phones: "청원 자: 장OO H.P: 010-23XX-XXXX 주 소: 대구...", "저는 김OO입니다. 010-46XX-XXXX",
#     "대표 배 O O 010-54XX-XXXX 이 O 원 010-52XX-XXXX", and office numbers of ministries and call centres
#     "주택정비과(044-201-XXXX, 담당 최OO)", "관리사무소(02-938-XXXX)", "02) 6744-XXXX~4 fax : 02) 6744-XXXX",
#     "010 39XX XXXX" (spaces). All real phone numbers.
#   petitions, e-mail: petitioners' own addresses ("저의 이메일은 koXXX@daum.net 입니다"), reporters'
#     bylines ("kwXXX@fnnews.com") and officials' ("sjXXX@moe.go.kr").
#   court decisions: nothing. They are anonymized at the source ("000000-0000000", 소외 1); every
#     hyphenated number there (tariff codes 1201-00-1000, registry numbers, table cells glued together)
#     is correctly left alone.
EXPECTED = {
    ("ko_court_precedents", "precedents.jsonl.gz"): {k: 0 for k in PII_KINDS},
    ("ko_petitions", "petitions.jsonl.gz"): {
        "pii_rrn": 0, "pii_phone": 23, "pii_email": 12, "pii_card": 0, "pii_account": 0,
    },
}


@pytest.mark.parametrize("name, file", list(EXPECTED))
def test_real_korean_text_only_pii_like_strings_are_masked(name, file):
    docs = corpus(name, file, limit=2000)
    frame = pl.DataFrame({"text": [d["text"] for d in docs]}, schema={"text": pl.String})
    before = frame.select(normalize_text(pl.col("text")))
    after = mask_pii(before)
    found = {k: int(after[k].sum()) for k in PII_KINDS}
    # Pinned after reviewing every match: a change here means new matches to look at, not a failure to silence.
    assert found == EXPECTED[(name, file)]

    # Characters replaced: each value of length L became a placeholder of length P.
    total = int(before["text"].str.len_chars().sum())
    removed = total - int(after["text"].str.len_chars().sum()) + sum(
        found[k] * len(PLACEHOLDERS[k]) for k in PII_KINDS
    )
    assert removed / total < 0.001

    changed = after.with_columns(before=before["text"]).filter(pl.col("text") != pl.col("before"))
    values = [pv for row in changed.iter_rows(named=True) for pv in masked_values(row["before"], row["text"])]
    # One petition quotes a form that already reads "[전화번호] : 031-... [이메일] : ...": those
    # placeholders were there before masking, align on themselves and are not counted as masks.
    values = [(p, v) for p, v in values if v != p]
    assert len(values) == sum(found.values())
    for placeholder, value in values:
        assert re.fullmatch(LOOKS_LIKE[placeholder], value), (placeholder, value)
        assert sum(c.isdigit() for c in value) >= 9 or placeholder == EMAIL, value
