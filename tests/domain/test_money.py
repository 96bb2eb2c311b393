"""Money must be exact: pools round down to the minor unit and allocations sum to the cent."""

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from onett_domain.money import Share, allocate, pool_minor, ratio, to_major


# --- pool_minor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revenue", "alpha", "digits", "expected"),
    [
        # 1234567.89 x 0.3 = 370370.367 exactly
        (Decimal("1234567.89"), Decimal("0.3"), 0, 370370),  # KRW: no minor unit
        (Decimal("1234567.89"), Decimal("0.3"), 2, 37037036),  # USD: 370370.36 (not .37)
        (Decimal("1234567.89"), Decimal("0.3"), 3, 370370367),  # e.g. KWD: exact, nothing lost
        # 1234.5678 x 0.3 = 370.37034 -> 370.370 in a 3-digit currency (down, not to nearest)
        (Decimal("1234.5678"), Decimal("0.3"), 3, 370370),
        (Decimal("0.999"), Decimal("1"), 2, 99),  # would be 100 if rounded half-up
        (Decimal("999.9"), Decimal("1"), 0, 999),
        (Decimal("0"), Decimal("0.3"), 2, 0),
    ],
)
def test_pool_minor_rounds_down_to_the_minor_unit(revenue, alpha, digits, expected):
    """The platform never promises more than revenue x alpha: any fraction of a minor unit is dropped."""
    result = pool_minor(revenue, alpha, digits)
    assert result == expected
    assert type(result) is int


# --- allocate ---------------------------------------------------------------------------------


def _random_ids(rng: random.Random, n: int) -> list[str]:
    korean = ["김민준", "이서연", "박지호", "최하은", "정도윤", "기여자"]
    english = ["alice", "bob", "carol", "dave", "Erin", "zed"]
    ids = set()
    while len(ids) < n:
        base = rng.choice(korean + english)
        ids.add(f"{base}-{rng.randrange(10**6)}")
    return list(ids)


def _random_tokens(rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.1:
        return 0
    if kind < 0.2:
        return rng.randrange(10**15, 10**16)  # huge counts must not lose precision
    if kind < 0.3:
        return 7  # many exact ties
    return rng.randrange(1, 100_000)


def _random_pool(rng: random.Random, n: int) -> int:
    return rng.choice([0, rng.randrange(0, n + 1), rng.randrange(0, 10**4), rng.randrange(0, 10**12)])


def _cases(seed: int = 20240601, count: int = 300):
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.randint(1, 200)
        yield _random_pool(rng, n), {c: _random_tokens(rng) for c in _random_ids(rng, n)}


def test_allocate_sums_exactly_and_every_share_is_floor_or_floor_plus_one():
    """No cent is created or lost, and nobody is more than one minor unit away from the exact quota."""
    for pool, tokens in _cases():
        shares = allocate(pool, tokens)
        total = sum(tokens.values())
        assert [s.contributor_id for s in shares] == sorted(tokens)
        assert all(s.tokens == tokens[s.contributor_id] for s in shares)
        if total == 0:
            assert all(s.minor == 0 for s in shares)
            continue
        assert sum(s.minor for s in shares) == pool, (pool, len(tokens))
        for s in shares:
            quota = Fraction(pool * s.tokens, total)
            floor = quota.numerator // quota.denominator
            assert s.minor in (floor, floor + 1), (pool, s, quota)
            assert type(s.minor) is int


def test_more_tokens_never_get_less_money():
    """Largest remainder is monotone: a contributor with more tokens gets at least as much."""
    for pool, tokens in _cases(seed=7, count=300):
        shares = sorted(allocate(pool, tokens), key=lambda s: s.tokens)
        best_below = -1  # highest amount paid to anyone with strictly fewer tokens
        i = 0
        while i < len(shares):
            level = [s for s in shares[i:] if s.tokens == shares[i].tokens]
            assert min(s.minor for s in level) >= best_below, (pool, level)
            best_below = max(best_below, max(s.minor for s in level))
            i += len(level)


def test_ties_go_to_ids_in_code_point_order_whatever_the_insertion_order():
    """Equal tokens: leftover units go by code point ('B' < 'a' < 'b' < '가'), never by dict order."""
    ids = ["b", "B", "가", "a", "나"]
    expected = [Share("B", 3, 2), Share("a", 3, 2), Share("b", 3, 2), Share("가", 3, 1), Share("나", 3, 1)]
    rng = random.Random(3)
    for _ in range(50):
        rng.shuffle(ids)
        # pool 8 over 5 equal contributors: 1 each, 3 left over
        assert allocate(8, {c: 3 for c in ids}) == expected


def test_allocation_is_independent_of_insertion_order_for_random_inputs():
    """The same inputs always give the same cents to the same people."""
    rng = random.Random(11)
    for pool, tokens in list(_cases(seed=5, count=60)):
        items = list(tokens.items())
        reference = allocate(pool, tokens)
        for _ in range(3):
            rng.shuffle(items)
            assert allocate(pool, dict(items)) == reference


def test_pool_smaller_than_contributor_count():
    """With 3 minor units and 5 equal contributors, the first three ids get one each."""
    shares = allocate(3, {"e": 1, "d": 1, "c": 1, "b": 1, "a": 1})
    assert [(s.contributor_id, s.minor) for s in shares] == [("a", 1), ("b", 1), ("c", 1), ("d", 0), ("e", 0)]


def test_zero_total_tokens_gives_all_zeros():
    """Nobody earned a token, so nobody is paid (rather than dividing by zero)."""
    assert allocate(1000, {"김민준": 0, "alice": 0}) == [Share("alice", 0, 0), Share("김민준", 0, 0)]
    assert allocate(1000, {}) == []


def test_zero_token_contributor_gets_nothing():
    """A contributor with 0 tokens never receives a leftover unit."""
    shares = {s.contributor_id: s.minor for s in allocate(10, {"a": 1, "b": 1, "c": 1, "zero": 0})}
    assert shares == {"a": 4, "b": 3, "c": 3, "zero": 0}


@pytest.mark.parametrize(("pool", "tokens"), [(-1, {"a": 1}), (10, {"a": 5, "b": -1}), (0, {"a": -1})])
def test_negative_pool_or_tokens_raise(pool, tokens):
    """Negative money or tokens is a bug upstream; it must not be silently allocated."""
    with pytest.raises(ValueError):
        allocate(pool, tokens)


# --- to_major and ratio ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "digits", "expected"),
    [(123456, 2, "1234.56"), (1000, 0, "1000"), (5, 3, "0.005"), (0, 2, "0.00"), (10**15, 2, "10000000000000.00")],
)
def test_to_major(minor, digits, expected):
    """Minor units back to a Decimal amount, exactly (no float)."""
    assert to_major(minor, digits) == Decimal(expected)
    assert str(to_major(minor, digits)) == expected


def test_ratio_is_quantized_to_18_places():
    """Display ratios have 18 decimals, rounded half-even."""
    assert ratio(1, 3) == Decimal("0.333333333333333333")
    assert ratio(2, 3) == Decimal("0.666666666666666667")
    assert ratio(1, 3).as_tuple().exponent == -18
    assert ratio(10**15, 4 * 10**15) == Decimal("0.25")
    assert ratio(7, 7) == Decimal(1)


def test_ratio_of_nothing_is_zero():
    """No tokens at all: ratio 0 instead of a division error."""
    assert ratio(0, 0) == 0
