"""Platform settings, read from the environment once per process (`load_settings`) with documented defaults.

Every setting that changes a number a contributor sees (alpha, currency, time zone, tokenizer) lives here, so the
README table and the code cannot drift apart; the code location, the CLI and the portal each build one `Settings`
and hand it (or the resources and the payout policy made from it) to what they run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from onett_domain.money import CURRENCY_DIGITS
from onett_domain.policy import Policy


YES = ("1", "true", "yes")


class SettingsError(ValueError):
    """A setting in the environment is malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    revenue_dir: Path
    reference_dir: Path
    storage_dir: Path
    warehouse: Path
    key_file: Path  # per-contributor keys of the encrypted upload archive; kept outside the warehouse and storage
    consent: Path  # agreements, acceptances and erasure requests (SQLite)
    release_dir: Path  # training releases for the data consumer
    alpha: Decimal
    currency: str
    timezone: str
    encoding: str
    first_period: date
    settle_seconds: float
    max_document_mb: int
    max_unpacked_mb: int
    max_compression_ratio: int
    workers: int
    count_raw_tokens: bool
    warehouse_memory: str
    warehouse_threads: int = 0  # 0: DuckDB picks (one per core)
    log_level: str = "WARNING"  # what the `onett` command prints of its runs' logs (the UI keeps them all)
    release_shard_mb: int = 256
    operator_name: str = "onett operator"  # the publisher named in releases
    public_url: str = ""  # where the platform is reached, named in releases
    membership_words: int = 100_000_000
    share_requires_membership: bool = False
    usage_dir: Path | None = None  # the consumer's per-partner API usage CSVs (None: <home>/usage)
    credit_ratio: Decimal = Decimal(1)  # API tokens of credit granted per contributed token
    credit_expiry_months: int = 12  # a grant expires this many months after it takes effect (0: never)
    payments: Path | None = None  # payee details, payment runs, their audit and disputes (SQLite; None: <home>/payments.sqlite)
    payee_key_file: Path | None = None  # the key that seals payee bank details (None: beside key_file)
    minimum_payout: Decimal = Decimal(1000)  # smaller amounts owed carry forward to the next payment run
    debtor_name: str = "onett operator"  # the platform's paying account, named in payment files
    debtor_account: str = ""
    debtor_bank: str = ""  # the paying bank: a BIC, or the bank's own code
    bank_statement_dir: Path | None = None  # bank statement CSVs to apply to payment runs (None: <home>/bank_statements)
    extraction_seconds: int = 300  # one document (PDF, HWP, ...) is read within this, or refused
    extraction_memory_mb: int = 2048  # ... and within this much memory
    split_sections: bool = False  # a document's chapters/sections become documents of their own
    recitation_index_dir: Path | None = None  # the recitation guard's index (None: <storage>/recitation-index)
    recitation_min_tokens: int = 50  # spans of at least this many tokens are recitations
    output_logs_dir: Path | None = None  # the consumer's model output logs, JSONL (None: <home>/output_logs)
    ray_address: str = ""  # HOST:PORT of a Ray head: preprocessing jobs run as tasks of that cluster
    disk_headroom: Decimal = Decimal(1)  # scales the disk room a submission must find free before `filtered` (0: off)

    @property
    def policy(self) -> Policy:
        """The settings that change the numbers: alpha, currency, time zone and first month."""
        return Policy(self.alpha, self.currency, self.timezone, self.first_period, self.membership_words,
                      self.share_requires_membership)


def dagster_home() -> Path:
    """DAGSTER_HOME if set, else ./dagster_home made absolute (Dagster requires an absolute path)."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home).resolve() if home else (Path.cwd() / "dagster_home").resolve()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env["DAGSTER_HOME"]).resolve() if env.get("DAGSTER_HOME") else dagster_home()

    def path(name: str, default: str) -> Path:
        return Path(env.get(name) or home / default).resolve()

    alpha_text = env.get("ONETT_ALPHA", "0.3")
    try:
        alpha = Decimal(alpha_text)
    except InvalidOperation:
        raise SettingsError(f"ONETT_ALPHA={alpha_text!r} is not a decimal number (e.g. 0.3)") from None
    if not (alpha.is_finite() and 0 <= alpha <= 1):
        raise SettingsError(f"ONETT_ALPHA={alpha_text!r} must be between 0 and 1")

    currency = env.get("ONETT_CURRENCY", "KRW").strip().upper()
    if currency not in CURRENCY_DIGITS:
        raise SettingsError(
            f"ONETT_CURRENCY={currency!r} is not a supported ISO 4217 code ({', '.join(sorted(CURRENCY_DIGITS))})"
        )

    timezone = env.get("ONETT_TIMEZONE", "Asia/Seoul")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"ONETT_TIMEZONE={timezone!r} is not an IANA time zone (e.g. Asia/Seoul)") from None

    first_text = env.get("ONETT_FIRST_PERIOD", "2023-01")
    try:
        first_period = date.fromisoformat(first_text[:7] + "-01")
    except ValueError:
        raise SettingsError(f"ONETT_FIRST_PERIOD={first_text!r} must be a month, YYYY-MM") from None

    settle_text = env.get("ONETT_SETTLE_SECONDS", "2")
    try:
        settle_seconds = float(settle_text)
    except ValueError:
        raise SettingsError(f"ONETT_SETTLE_SECONDS={settle_text!r} must be a number of seconds") from None

    def positive_int(name: str, default: int) -> int:
        text = env.get(name, str(default))
        if not text.strip().isdigit() or int(text) <= 0:
            raise SettingsError(f"{name}={text!r} must be a positive whole number")
        return int(text)

    workers_text = env.get("ONETT_WORKERS", "0")
    if not workers_text.strip().isdigit():
        raise SettingsError(f"ONETT_WORKERS={workers_text!r} must be a whole number (0: one per core)")
    workers = int(workers_text)

    warehouse_memory = env.get("ONETT_WAREHOUSE_MEMORY", "1GB").strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", warehouse_memory, re.IGNORECASE):
        raise SettingsError(f"ONETT_WAREHOUSE_MEMORY={warehouse_memory!r} must be a size such as 1GB or 512MB")

    threads_text = env.get("ONETT_WAREHOUSE_THREADS", "0")
    if not threads_text.strip().isdigit():
        raise SettingsError(f"ONETT_WAREHOUSE_THREADS={threads_text!r} must be a whole number (0: one per core)")

    log_level = env.get("ONETT_LOG_LEVEL", "WARNING").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"ONETT_LOG_LEVEL={log_level!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")

    def whole_number(name: str, default: int) -> int:
        text = env.get(name, str(default))
        if not text.strip().isdigit():
            raise SettingsError(f"{name}={text!r} must be a whole number")
        return int(text)

    def non_negative_decimal(name: str, default: str) -> Decimal:
        text = env.get(name, default)
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise SettingsError(f"{name}={text!r} is not a decimal number") from None
        if not value.is_finite() or value < 0:
            raise SettingsError(f"{name}={text!r} must be zero or more")
        return value

    operator_name = env.get("ONETT_OPERATOR_NAME", "onett operator").strip() or "onett operator"

    recitation_min_tokens = positive_int("ONETT_RECITATION_MIN_TOKENS", 50)
    if recitation_min_tokens < 50:  # below the default: checked against the text library's floor, imported only then
        from onett_text.passages import GUARANTEED_SPAN

        if recitation_min_tokens < GUARANTEED_SPAN:
            raise SettingsError(f"ONETT_RECITATION_MIN_TOKENS={recitation_min_tokens} must be at least "
                                f"{GUARANTEED_SPAN}: shorter shared spans are not guaranteed to be found")

    return Settings(
        home=home,
        landing_dir=path("ONETT_LANDING_DIR", "landing"),
        revenue_dir=path("ONETT_REVENUE_DIR", "revenue"),
        reference_dir=path("ONETT_REFERENCE_DIR", "reference"),
        storage_dir=path("ONETT_STORAGE_DIR", "data"),
        warehouse=path("ONETT_WAREHOUSE", "onett.duckdb"),
        key_file=path("ONETT_KEY_FILE", "keys/upload-keys.json"),
        consent=path("ONETT_CONSENT_DB", "consent.sqlite"),
        release_dir=Path(env.get("ONETT_RELEASE_DIR") or path("ONETT_STORAGE_DIR", "data") / "releases").resolve(),
        alpha=alpha,
        currency=currency,
        timezone=timezone,
        encoding=env.get("ONETT_ENCODING", "cl100k_base"),
        first_period=first_period,
        settle_seconds=max(settle_seconds, 0.0),
        max_document_mb=positive_int("ONETT_MAX_DOCUMENT_MB", 16),
        max_unpacked_mb=positive_int("ONETT_MAX_UNPACKED_MB", 4096),
        max_compression_ratio=positive_int("ONETT_MAX_COMPRESSION_RATIO", 200),
        workers=workers,
        warehouse_memory=warehouse_memory,
        warehouse_threads=int(threads_text),
        count_raw_tokens=env.get("ONETT_COUNT_RAW_TOKENS", "0").strip().lower() in YES,
        log_level=log_level,
        release_shard_mb=positive_int("ONETT_RELEASE_SHARD_MB", 256),
        operator_name=operator_name,
        public_url=env.get("ONETT_PUBLIC_URL", "").strip(),
        membership_words=positive_int("ONETT_MEMBERSHIP_WORDS", 100_000_000),
        share_requires_membership=env.get("ONETT_SHARE_REQUIRES_MEMBERSHIP", "0").strip().lower() in YES,
        usage_dir=path("ONETT_USAGE_DIR", "usage"),
        credit_ratio=non_negative_decimal("ONETT_CREDIT_RATIO", "1"),
        credit_expiry_months=whole_number("ONETT_CREDIT_EXPIRY_MONTHS", 12),
        payments=path("ONETT_PAYMENTS_DB", "payments.sqlite"),
        payee_key_file=Path(env.get("ONETT_PAYEE_KEY_FILE")
                            or path("ONETT_KEY_FILE", "keys/upload-keys.json").with_name("payee-key.json")).resolve(),
        minimum_payout=non_negative_decimal("ONETT_MINIMUM_PAYOUT", "1000"),
        debtor_name=env.get("ONETT_DEBTOR_NAME", "").strip() or operator_name,
        debtor_account=env.get("ONETT_DEBTOR_ACCOUNT", "").strip(),
        debtor_bank=env.get("ONETT_DEBTOR_BANK", "").strip(),
        bank_statement_dir=path("ONETT_BANK_STATEMENT_DIR", "bank_statements"),
        extraction_seconds=positive_int("ONETT_EXTRACTION_SECONDS", 300),
        extraction_memory_mb=positive_int("ONETT_EXTRACTION_MEMORY_MB", 2048),
        split_sections=env.get("ONETT_SPLIT_SECTIONS", "0").strip().lower() in YES,
        # absolute, not resolved: the folder is a symlink swapped to each new generation of the index
        recitation_index_dir=Path(env.get("ONETT_RECITATION_INDEX_DIR")
                                  or path("ONETT_STORAGE_DIR", "data") / "recitation-index").absolute(),
        recitation_min_tokens=recitation_min_tokens,
        output_logs_dir=path("ONETT_OUTPUT_LOGS_DIR", "output_logs"),
        ray_address=env.get("ONETT_RAY_ADDRESS", "").strip(),
        disk_headroom=non_negative_decimal("ONETT_DISK_HEADROOM", "1"),
    )
