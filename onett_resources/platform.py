"""Platform policy that changes the numbers: alpha, currency and time zone, shown in the UI's resource view."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from dagster import ConfigurableResource

from onett_resources.settings import CURRENCY_DIGITS


class Platform(ConfigurableResource):
    alpha: str  # a decimal string: never a float for money
    currency: str
    timezone: str
    first_period: str

    @property
    def alpha_decimal(self) -> Decimal:
        return Decimal(self.alpha)

    @property
    def currency_digits(self) -> int:
        return CURRENCY_DIGITS[self.currency]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_period_date(self) -> date:
        return date.fromisoformat(self.first_period)
