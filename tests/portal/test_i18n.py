"""Interface language and number formatting."""

from decimal import Decimal

from onett_portal.i18n import STRINGS, Translator, pick_language


def test_language_choice():
    assert pick_language(None, None, None) == "ko"  # Korean by default
    assert pick_language(None, None, "ko-KR,ko;q=0.9,en-US;q=0.8") == "ko"
    assert pick_language(None, None, "en-US,en;q=0.9,ko;q=0.8") == "en"
    assert pick_language(None, None, "fr-FR,fr;q=0.9,en;q=0.5") == "en"
    assert pick_language(None, None, "en;q=0.2,ko;q=0.9") == "ko"  # q values count, not order
    assert pick_language(None, None, "de") == "ko"
    assert pick_language(None, "en", "ko-KR") == "en"  # the remembered switch wins
    assert pick_language("ko", "en", "en") == "ko"  # ?lang= wins over everything
    assert pick_language("xx", None, "en") == "en"


def test_every_string_has_both_languages():
    for key, pair in STRINGS.items():
        assert len(pair) == 2 and all(pair), key
        ko, en = pair
        assert sorted(_fields(ko)) == sorted(_fields(en)), key


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def test_money_uses_the_currency_minor_unit_and_never_rounds_up():
    ko, en = Translator("ko", "KRW", 0), Translator("en", "KRW", 0)
    assert ko.money(Decimal("1520532")) == "1,520,532원"
    assert en.money(Decimal("1520532.9")) == "₩1,520,532"
    usd = Translator("en", "USD", 2)
    assert usd.money(Decimal("1234.567")) == "1,234.56 USD"
    assert Translator("ko", "BHD", 3).money(Decimal("1.5")) == "1.500 BHD"
    assert ko.pct(Decimal("0.341753357")) == "34.1753%"
    assert ko.month("2026-10") == "2026년 10월" and en.month("2026-10") == "Oct 2026"
    assert ko.num(1234567) == "1,234,567"
    assert ko.stage("exact_dedup") == "완전 중복" and en.stage("exact_dedup") == "exact duplicates"
