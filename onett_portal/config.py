"""The portal's own settings, read from the environment like the platform's (onett_resources.settings)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from onett_resources.settings import SettingsError, dagster_home

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class PortalSettings:
    database: Path  # accounts, sessions, sign-in failures, paid-month marks (SQLite, never the warehouse)
    session_hours: float
    max_upload_mb: int
    dagster_url: str  # where operators' "lineage" links point
    secure_cookies: bool  # mark cookies Secure (behind HTTPS)
    trusted_proxies: str = ""  # addresses whose X-Forwarded-For is believed (comma-separated); none by default

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb << 20


def load_portal_settings(env: dict[str, str] | None = None) -> PortalSettings:
    env = dict(os.environ if env is None else env)
    home = Path(env["DAGSTER_HOME"]).resolve() if env.get("DAGSTER_HOME") else dagster_home()

    hours_text = env.get("ONETT_PORTAL_SESSION_HOURS", "8")
    try:
        hours = float(hours_text)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 30:
        raise SettingsError(f"ONETT_PORTAL_SESSION_HOURS={hours_text!r} must be a number of hours between 0 and 720")

    mb_text = env.get("ONETT_PORTAL_MAX_UPLOAD_MB", "512")
    if not mb_text.strip().isdigit() or int(mb_text) <= 0:
        raise SettingsError(f"ONETT_PORTAL_MAX_UPLOAD_MB={mb_text!r} must be a positive whole number of megabytes")

    url = env.get("ONETT_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"ONETT_DAGSTER_URL={url!r} must start with http:// or https://")

    return PortalSettings(
        database=Path(env.get("ONETT_PORTAL_DB") or home / "portal.sqlite").resolve(),
        session_hours=hours,
        max_upload_mb=int(mb_text),
        dagster_url=url,
        secure_cookies=env.get("ONETT_PORTAL_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        trusted_proxies=",".join(a.strip() for a in env.get("ONETT_PORTAL_TRUSTED_PROXIES", "").split(",")
                                 if a.strip()),
    )
