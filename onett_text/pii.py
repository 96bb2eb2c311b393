"""Personal data masking: resident registration, phone, e-mail, card and bank account numbers.

Every value found is replaced by a short fixed placeholder (`[전화번호]`, ...), never deleted. A
placeholder keeps the sentence a sentence ("연락처는 [전화번호]입니다" still reads, still passes the
quality rules, and deduplicates against the same text holding another number), and the token count
stays honest: the contributor is paid for the words they wrote plus a few placeholder tokens, not for
the digits of someone's phone number, and a hole in the sentence does not make two different
sentences look alike. The placeholders hold no digits and no `@`, so no pattern can match inside one:
masking is idempotent.

Everything runs as polars expressions over the `text` column, each pattern rewriting only the texts
it is in (rewrite.py; most documents hold no personal data). Three kinds need a check a regular
expression cannot make (the Luhn checksum of card numbers, the digit total of an account number
across its groups, the date-stamped document numbers that look like resident numbers). For those the
candidates are first wrapped in two Unicode noncharacters, only the documents holding a candidate
are looked at, the distinct candidates are validated (still with polars expressions, no Python
loop), the valid ones are replaced with one `str.replace_many` over those documents, and the
wrappers of the rejected ones are removed again.

Polars uses Rust's regex engine: no look-around. A number must not be part of a longer number, so
each numeric pattern is framed by a left and a right context group that consume the neighbouring
character and put it back in the replacement. Two values separated by a single character
("010-1234-5678 010-2345-6789") share that character, so the second is not found in the same pass;
every numeric pattern therefore runs twice, the second time over the texts the first changed (a
second pass always suffices: a value skipped in pass 1 directly follows a value that was masked in
pass 1).

Order matters (`MASK_ORDER`): e-mail first (a local part such as `01012345678@naver.com` would
otherwise lose its digits to the phone pattern and leave half an address), then resident registration
numbers and card numbers before phone and account numbers, whose looser shapes would otherwise eat
them (a card's hyphenated groups look like an account's, `4111-1111-1111-1111`; a resident number
must be labelled as one, not as whatever else its digits fit), and phone numbers before account
numbers (`010-1234-5678` has an account's shape).

Not handled, on purpose or for now: full-width digits (normalization does not apply NFKC, so
`０１０-１２３４-５６７８` stays), numbers spelled out or split by other characters, names and street
addresses (no reliable pattern; court decisions already anonymize them as 소외 1, 피고 2 ...).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from onett_text.rewrite import replace_where

PII_KINDS = ("pii_rrn", "pii_phone", "pii_email", "pii_card", "pii_account")
"""The count columns `mask_pii` adds (Int64, values masked per document), in reporting order."""

PLACEHOLDERS = {
    "pii_rrn": "[주민등록번호]",
    "pii_phone": "[전화번호]",
    "pii_email": "[이메일]",
    "pii_card": "[카드번호]",
    "pii_account": "[계좌번호]",
}
"""The fixed text each masked value becomes, the same whatever the language of the document."""

MASK_ORDER = ("pii_email", "pii_rrn", "pii_card", "pii_phone", "pii_account")
"""The order the patterns run in (not the column order): see the module docstring for why."""

_OPEN, _CLOSE = "\ufdd0", "\ufdd1"  # noncharacters: set aside by Unicode for exactly this internal use
_CANDIDATE = f"{_OPEN}[^{_OPEN}{_CLOSE}]*{_CLOSE}"
_URL_CHARS = r"/%=+\&#?"


def _left(also_not: str = "") -> str:
    """Before a number: start of text, or a character that is neither a digit, an ASCII letter nor `_`
    (so not inside `A1234...` identifiers or longer digit runs); a `-` or `.` only where it does not
    follow a digit (a dash or bullet, not the `2019-` of a longer chain). Hangul may touch the number
    (`전화010-1234-5678`). `also_not` excludes more characters (URL punctuation for accounts and cards)."""
    never = f"0-9{_OPEN}{_CLOSE}{also_not}"
    return rf"(^[.\-]?|[^A-Za-z_.\-{never}]|[^{never}][.\-])"


_RIGHT = rf"($|[^0-9A-Za-z_.\-{_OPEN}{_CLOSE}]|[.\-](?:$|[^0-9]))"
"""After a number: end of text, a character that is neither a digit nor an ASCII letter (Korean
particles are fine: `5678이고`), or a `.`/`-` not followed by a digit (a full stop, not a decimal
part or one more group)."""

EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
"""E-mail addresses with an ASCII local part and a dotted domain ending in a letter TLD
(`hong@example.co.kr`, `lee.eunji2@joongang.co.kr`), also when Hangul follows directly
(`hong@example.co.kr입니다`). Not matched: `@handles` without a local part, addresses without a TLD
(`hong@localhost`), obfuscated forms (`hong at example dot com`, `hong＠naver.com`) and Hangul domains.
Institutional addresses are masked as well: they cannot be told apart from personal ones."""

RRN = (
    r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[\- ]?[1-8][0-9]{6}|-[1-8](?:\*{6}|[xX]{6}|●{6}))"
)
"""Resident registration numbers (주민등록번호) and alien registration numbers (외국인등록번호):
six digits forming a plausible YYMMDD date (month 01-12, day 01-31), an optional hyphen or space,
then seven digits whose first (sex and century; 5-8 for foreigners) is 1-8. The old check digit is
deliberately not verified: numbers issued since October 2020 end in a random serial and do not
satisfy it, so checking it would let exactly the newest numbers through. Also matched: the half-masked
form `900101-1******`, which still gives away a birth date and sex. Not matched: 9 or 0 in the
seventh place (born in the 1800s), impossible dates (`000000-0000000` placeholders, `114621-0042900`),
longer digit runs, and bare 13-digit runs that begin with a YYYYMMDD date (news article and document
numbers such as `2012121300109` in URLs; a real number is only missed there for someone born in
1919, 1920, 2019 or 2020 on day 01-12 and written without a separator). Over-masked, knowingly: a
bare 13-digit Korean barcode (`880...`) whose digits happen to form a date, and corporate
registration numbers (법인등록번호) with a date-like head."""

_IIN = (
    r"(?:4[0-9]{3}|5[1-5][0-9]{2}|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)"
    r"|3[47][0-9]{2}|3(?:0[0-5]|[68][0-9])[0-9]|35(?:2[89]|[3-8][0-9])|6011|6[245][0-9]{2})"
)
# Issuer prefixes: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Diners 300-305/36/38,
# JCB 3528-3589, Discover 6011/64/65, UnionPay 62. Korean domestic-only cards (9xxx) only when grouped.
CARD = (
    rf"(?:(?:{_IIN}|9[0-9]{{3}})(?:[\- ][0-9]{{4}}){{3}}(?:-[0-9]{{1,3}})?"
    r"|3[0-9]{3}[\- ][0-9]{6}[\- ][0-9]{4,5}"
    rf"|{_IIN}[0-9]{{11,12}})"
)
"""Payment card numbers: four groups of four digits separated by hyphens or spaces
(`4111 1111 1111 1111`, `9410-1234-5678-9012`; up to three more digits after a hyphen, 19 in all),
the Amex/Diners 4-6-5 and 4-6-4 groupings (`3782 822463 10005`), or 15-16 bare digits; the first
digits must be a card network's issuer prefix (see `_IIN`) and the whole number must pass the Luhn
checksum, so of the random digit runs with the right shape and prefix only one in ten is masked.
Not matched: bare runs of other lengths (13-digit EAN barcodes and ISBNs, 17-19-digit tweet and
widget ids), runs starting with 0, 1, 7 or 8 (phone numbers, `880` Korean barcodes, `978` ISBNs),
numbers inside URLs (`/`, `=`, `%` before them), numbers that fail Luhn, amounts with thousands
separators (`1,234,567원`), space-grouped numbers followed by more short digits
(`4111 1111 1111 1111 12개월` is masked, the `12` is not taken as part of it)."""

_MOBILE = r"01[016-9]"
_AREA = r"(?:02|03[1-3]|04[1-4]|05[1-5]|06[1-4]|070|050[2-8])"
_SEPARATED_AREA = r"(?:\({a}\) ?|{a}(?:[\-. ]|\) ?))"
PHONE = (
    "(?:"
    + _SEPARATED_AREA.format(a=_MOBILE) + r"[0-9]{3,4}[\-. ]?[0-9]{4}"
    + "|" + _MOBILE + r"[0-9]{3,4}[0-9]{4}"
    + "|" + _SEPARATED_AREA.format(a=_AREA) + r"[1-9][0-9]{2,3}[\-. ]?[0-9]{4}"
    + r"|\+82[\-. ]?(?:\(0\) ?)?0?(?:1[016-9][\-. ]?[0-9]{3,4}"
    + r"|(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])[\-. ]?[1-9][0-9]{2,3})[\-. ]?[0-9]{4}"
    + r"|(?:\+1[\-. ]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[\-.])[2-9][0-9]{2}[\-.][0-9]{4}"
    + ")"
)
"""Phone numbers. Korean mobile numbers 010/011/016-019 with 3-4 and 4 more digits, separated by
hyphens, dots, spaces or nothing (`010-1234-5678`, `010.1234.5678`, `010 1234 5678`, `01012345678`);
landlines with an area code (02 Seoul, 031-033, 041-044, 051-055, 061-064), internet phones 070 and
personal safe numbers 0502-0508, with a separator after the area code (`02-123-4567`, `031.123.4567`,
`(02) 123-4567`, `02)123-4567`) and a local number not starting with 0; the international forms
`+82-10-1234-5678`, `+82 (0)2 123 4567`; and, for the English documents, North American numbers
`(617) 555-0123`, `617-555-0123`, `+1 617.555.0123`. Not matched: landlines written without any
separator after the area code (`0212345678`: a bare 9-10 digit run starting with 0 is as often an
ISBN-10 like `0201758474`, a MIME boundary or an id; US ZIP+4 `02111-1307` is not taken for
02-111-1307 either), a local number starting with 0,
numbers without an area code (`123-4567`), business numbers (`1588-1234`, `080-...` toll free),
dates (`2024-01-15`, `02.03.2024`), anything inside a longer digit chain. Office numbers are masked
as well: a government desk's number cannot be told apart from a person's."""

ACCOUNT = r"(?:[0-9]{6}|[0-9]{4}|[0-9]{3})(?:-[0-9]{2,7}){1,2}-[0-9]{1,7}"
"""Korean bank account numbers, hyphenated only: a first group of 3, 4 or 6 digits (신한 110-,
우리 1002-, 국민 123456-, 카카오뱅크 3333-, 토스 1000-, ...) and two or three more groups, of which
only the last may be a single digit (새마을금고 9002-1234-5678-9), 10-14 digits in all
(`110-123-456789`, `1002-123-456789`, `123456-01-123456`, `301-1234-5678-91`). Being
conservative, not matched: bare digit runs (any id could be one), a 4-digit group that is a year
19xx/20xx (dates, document and registry numbers such as `1146-1996-123456`), phone-shaped numbers
`0xx-xxx(x)-xxxx` (toll-free and other non-personal lines; personal ones were masked as phones before
this runs), the 3-2-5 business registration number `123-45-67890` (public by law), the 4-2-4 HSK
tariff code `1201-00-1000` (품목번호, in customs and tax decisions), first groups of 2 or 5 digits
(patent numbers `10-2019-0012345`, registered mail `11204-0470-7556`), numbers in URLs and after `+`
(`news.com.com/2100-1023-961138.html`, `+353-1-700-5273`), statute and case citations (`제123조`,
`2019다12345`: no hyphens) and ISBNs (five groups)."""


def _rrn_valid(candidate: pl.Expr) -> pl.Expr:
    """Not a bare date-stamped document number (YYYYMMDD followed by a 5-digit serial)."""
    dated = rf"^{_OPEN}(?:19|20)[0-9]{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{{5}}{_CLOSE}$"
    return ~candidate.str.contains(dated)


def _luhn_valid(candidate: pl.Expr) -> pl.Expr:
    """Luhn checksum: from the right, every second digit doubled (minus 9 above 9), sum divisible by 10."""
    digits = candidate.str.replace_all("[^0-9]", "").str.reverse().str.extract_all("[0-9]")
    weighted = digits.list.eval(pl.element().cast(pl.Int64) * (1 + pl.int_range(pl.len()) % 2))
    folded = weighted.list.eval(pl.when(pl.element() > 9).then(pl.element() - 9).otherwise(pl.element()))
    return folded.list.sum() % 10 == 0


def _account_valid(candidate: pl.Expr) -> pl.Expr:
    """10-14 digits in all, no year-like group, not phone-shaped, not a business registration number
    (3-2-5) nor a 10-digit HSK tariff code (4-2-4)."""
    return (
        candidate.str.count_matches("[0-9]").is_between(10, 14)
        & ~candidate.str.contains(rf"(?:{_OPEN}|-)(?:19|20)[0-9]{{2}}(?:{_CLOSE}|-)")
        & ~candidate.str.contains(rf"^{_OPEN}0[0-9]{{2}}-[0-9]{{3,4}}-[0-9]{{4}}{_CLOSE}$")
        & ~candidate.str.contains(rf"^{_OPEN}[0-9]{{3}}-[0-9]{{2}}-[0-9]{{5}}{_CLOSE}$")
        & ~candidate.str.contains(rf"^{_OPEN}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{4}}{_CLOSE}$")
    )


# kind -> (pattern, left context, validation of the candidates or None)
_STEPS: dict[str, tuple[str, str, Callable[[pl.Expr], pl.Expr] | None]] = {
    "pii_rrn": (RRN, _left(), _rrn_valid),
    "pii_card": (CARD, _left(_URL_CHARS), _luhn_valid),
    "pii_phone": (PHONE, _left(), None),
    "pii_account": (ACCOUNT, _left(_URL_CHARS), _account_valid),
}

_T = "text"
_MAY_HOLD_PII = "@|[0-9]{3}"


def _mask_plain(texts: pl.Series, core: str, left: str, placeholder: str) -> pl.Series:
    # the second pass finds values whose left neighbour the first pass consumed
    return replace_where(texts, f"{left}{core}{_RIGHT}", "${1}" + placeholder + "${2}", passes=2)


def _mask_validated(
    texts: pl.Series, core: str, left: str, placeholder: str, valid: Callable[[pl.Expr], pl.Expr]
) -> pl.Series:
    texts = replace_where(texts, f"{left}({core}){_RIGHT}", "${1}" + _OPEN + "${2}" + _CLOSE + "${3}", passes=2)
    framed = texts.str.contains(_OPEN, literal=True).fill_null(False).arg_true()  # the (few) holding a candidate
    if not len(framed):
        return texts
    held = texts.gather(framed)
    accepted = (
        held.to_frame(_T).lazy()
        .select(candidate=pl.col(_T).str.extract_all(_CANDIDATE))
        .explode("candidate")
        .drop_nulls()
        .unique()
        .filter(valid(pl.col("candidate")))
        .collect()
        .get_column("candidate")
        .to_list()
    )
    if accepted:
        held = held.str.replace_many({c: placeholder for c in accepted})
    return texts.scatter(framed, held.str.replace_all(f"{_OPEN}([^{_OPEN}{_CLOSE}]*){_CLOSE}", "${1}"))


def mask_pii(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with personal data in `text` replaced by placeholders and one Int64 column per kind
    (`PII_KINDS`) counting the values masked in each document (0 for a null text). Other columns are
    kept as they are; the count columns are replaced if present."""
    text = frame.get_column(_T).cast(pl.String)
    # Every pattern needs an '@' (e-mail) or three digits in a row (the numbers): only those documents are
    # searched, the rest keep their text and count nothing.
    candidates = text.str.contains(_MAY_HOLD_PII).fill_null(False)
    original = text.filter(candidates)
    masked = original
    for kind in MASK_ORDER:
        placeholder = PLACEHOLDERS[kind]
        if kind == "pii_email":  # no framing needed: the greedy local part starts where the address does
            masked = replace_where(masked, EMAIL, placeholder)
            continue
        core, left, valid = _STEPS[kind]
        if valid is None:
            masked = _mask_plain(masked, core, left, placeholder)
        else:
            masked = _mask_validated(masked, core, left, placeholder, valid)
    # Counted as placeholders gained in the texts masking changed, so a text that already held "[전화번호]" counts
    # only new masks.
    changed = (masked != original).fill_null(False).arg_true()
    rows = candidates.arg_true().gather(changed)
    counts = {}
    for kind in PII_KINDS:
        gained = (masked.gather(changed).str.count_matches(PLACEHOLDERS[kind], literal=True).cast(pl.Int64)
                  - original.gather(changed).str.count_matches(PLACEHOLDERS[kind], literal=True).cast(pl.Int64))
        counts[kind] = pl.zeros(len(text), pl.Int64, eager=True).scatter(rows, gained)
    return frame.with_columns(text.scatter(rows, masked.gather(changed)).alias(_T), **counts)
