"""Money: the pool of a month and its exact allocation. Integers of minor units only; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

RATIO_PLACES = Decimal(1).scaleb(-18)

# ISO 4217 minor-unit exponents for the currencies we expect; an unknown code is an error, never a guess.
CURRENCY_DIGITS = {
    "KRW": 0, "JPY": 0, "VND": 0, "CLP": 0, "ISK": 0,
    "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "HKD": 2, "SGD": 2, "TWD": 2, "AUD": 2, "CAD": 2,
    "CHF": 2, "INR": 2, "SEK": 2, "NOK": 2, "DKK": 2, "NZD": 2, "THB": 2, "PHP": 2, "MYR": 2,
    "IDR": 2, "BRL": 2, "MXN": 2,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}


def pool_minor(revenue: Decimal, alpha: Decimal, digits: int) -> int:
    """pool = revenue x alpha, rounded down to the currency's minor unit, as a count of minor units."""
    return int((revenue * alpha).scaleb(digits).to_integral_value(rounding=ROUND_DOWN))


def to_major(minor: int, digits: int) -> Decimal:
    return Decimal(minor).scaleb(-digits)


def to_minor(major: Decimal | str, digits: int) -> int:
    """A stored amount (a whole number of minor units in major units) back to minor units."""
    return round(Decimal(major).scaleb(digits))


def ratio(tokens: int, total: int) -> Decimal:
    """T_i / sum_j T_j rounded for display; amounts never use this rounded value."""
    return (Decimal(tokens) / Decimal(total)).quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN) if total else Decimal(0)


@dataclass(frozen=True)
class Share:
    contributor_id: str
    tokens: int
    minor: int


def allocate(pool: int, tokens: dict[str, int]) -> list[Share]:
    """Largest-remainder allocation of `pool` minor units in proportion to tokens; sums exactly to the pool.

    Everyone first gets floor(pool x T_i / T); the minor units left over (fewer than the number of
    contributors) go one each to the largest remainders. Ties go to more tokens, then to the contributor id
    in code-point order, so the same inputs always give the same cents to the same people.
    """
    if pool < 0:
        raise ValueError(f"pool must not be negative (got {pool})")
    if any(t < 0 for t in tokens.values()):
        raise ValueError("token counts must not be negative")
    total = sum(tokens.values())
    if total == 0:
        return [Share(c, t, 0) for c, t in sorted(tokens.items())]
    floors = {c: pool * t // total for c, t in tokens.items()}
    remainders = {c: pool * t % total for c, t in tokens.items()}
    left = pool - sum(floors.values())
    order = sorted(tokens, key=lambda c: (-remainders[c], -tokens[c], c))
    for c in order[:left]:
        floors[c] += 1
    return [Share(c, tokens[c], floors[c]) for c in sorted(tokens)]
