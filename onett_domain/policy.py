"""The payout policy: the settings that change the numbers a contributor sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from onett_domain.money import CURRENCY_DIGITS


@dataclass(frozen=True)
class Policy:
    alpha: Decimal  # contributors' share of API revenue
    currency: str  # ISO 4217
    timezone: str  # months and the monthly close are in this time zone
    first_period: date  # the first payout month
    membership_words: int = 100_000_000  # words contributed (accepted, earning) that make a 1T Club partner eligible
    share_requires_membership: bool = False  # revenue share only for approved members (the paper pays everyone)
    members: frozenset[str] | None = None  # with share_requires_membership: the approved members, else None

    @property
    def digits(self) -> int:
        """The currency's minor-unit digits."""
        return CURRENCY_DIGITS[self.currency]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
