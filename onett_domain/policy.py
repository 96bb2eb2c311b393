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

    @property
    def digits(self) -> int:
        """The currency's minor-unit digits."""
        return CURRENCY_DIGITS[self.currency]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
