"""The consumer's per-partner API usage feed: CSV files `date,contributor_id,input_tokens,output_tokens`, or
`date,api_key,input_tokens,output_tokens` with an `api_keys.csv` (`api_key,contributor_id`) in the same folder.

Every error of the whole feed is collected, each naming its file and line, so the operator fixes them in one go
and nothing is applied half-way."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from dagster import ConfigurableResource

from onett_domain.api_credit import UsageRow, contributor_id

BY_CONTRIBUTOR = ["date", "contributor_id", "input_tokens", "output_tokens"]
BY_KEY = ["date", "api_key", "input_tokens", "output_tokens"]
KEYS_FILE = "api_keys.csv"
KEYS_HEADER = ["api_key", "contributor_id"]


class UsageFeed(ConfigurableResource):
    """A folder of daily per-partner usage CSVs exported by the consumer's API."""

    path: str

    def files(self) -> list[Path]:
        root = Path(self.path)
        if not root.is_dir():
            return []
        return sorted(p for p in root.rglob("*.csv")
                      if p.is_file() and not p.name.startswith(".") and p.name != KEYS_FILE)

    def _name(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix()

    def _keys(self, folder: Path, errors: list[str]) -> dict[str, str] | None:
        path = folder / KEYS_FILE
        if not path.is_file():
            return None
        keys: dict[str, str] = {}
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if [c.strip() for c in reader.fieldnames or []] != KEYS_HEADER:
                errors.append(f"{self._name(path)}: header must be {','.join(KEYS_HEADER)} (found {reader.fieldnames})")
                return keys
            for row in reader:
                where = f"{self._name(path)} line {reader.line_num}"
                key, who = (row.get("api_key") or "").strip(), contributor_id(row.get("contributor_id") or "")
                if None in row or not key or not who:
                    errors.append(f"{where}: expected an api_key and a contributor_id")
                elif key in keys and keys[key] != who:
                    errors.append(f"{where}: api key {key!r} is already mapped to {keys[key]!r}")
                else:
                    keys[key] = who
        return keys

    def read(self) -> tuple[list[UsageRow], list[str]]:
        """Every usage row of the feed and every error found (file and line). A (day, contributor) reported twice
        (for a key: the same key twice, or the contributor also reported directly) is an error, not a sum."""
        rows: list[UsageRow] = []
        errors: list[str] = []
        seen: dict[tuple, str] = {}  # (day, contributor, key) -> where it was reported
        first: dict[tuple, str] = {}  # (day, contributor) -> where it was first reported
        key_maps: dict[Path, dict[str, str] | None] = {}
        for path in self.files():
            try:
                self._read_file(path, rows, errors, seen, first, key_maps)
            except UnicodeDecodeError as exc:
                errors.append(f"{self._name(path)}: not UTF-8 text ({exc.reason}); export the feed as UTF-8")
        return sorted(rows, key=lambda r: (r.date, r.contributor_id, r.api_key)), errors

    def _read_file(self, path: Path, rows: list[UsageRow], errors: list[str], seen: dict, first: dict,
                   key_maps: dict) -> None:
        name = self._name(path)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [c.strip() for c in reader.fieldnames or []]
            if header not in (BY_CONTRIBUTOR, BY_KEY):
                errors.append(f"{name}: header must be {','.join(BY_CONTRIBUTOR)} or {','.join(BY_KEY)} "
                              f"(found {reader.fieldnames})")
                return
            keys = None
            if header == BY_KEY:
                if path.parent not in key_maps:
                    key_maps[path.parent] = self._keys(path.parent, errors)
                keys = key_maps[path.parent]
                if keys is None:
                    errors.append(f"{name}: names api keys but there is no {KEYS_FILE} beside it")
                    return
            for row in reader:
                where = f"{name} line {reader.line_num}"
                parsed = self._row(row, header, keys, where, errors)
                if parsed is None:
                    continue
                day = (parsed.date, parsed.contributor_id)
                mine = (*day, parsed.api_key)
                clash = (seen.get(mine) or seen.get((*day, ""))) if parsed.api_key else first.get(day)
                if clash:
                    errors.append(f"{where}: {parsed.date} of {parsed.contributor_id}"
                                  + (f" (api key {parsed.api_key})" if parsed.api_key else "")
                                  + f" is already reported in {clash}")
                    continue
                seen[mine] = where
                first.setdefault(day, where)
                rows.append(parsed)

    @staticmethod
    def _row(row: dict, header: list[str], keys: dict[str, str] | None, where: str,
             errors: list[str]) -> UsageRow | None:
        if None in row or any(v is None for v in row.values()):
            errors.append(f"{where}: expected {len(header)} columns")
            return None
        found = len(errors)
        try:
            day = date.fromisoformat(row["date"].strip())
        except ValueError:
            errors.append(f"{where}: date {row['date']!r} is not YYYY-MM-DD")
        counts = []
        for column in ("input_tokens", "output_tokens"):
            text = row[column].strip()
            if not text.isascii() or not text.isdigit():
                errors.append(f"{where}: {column} {text!r} is not a non-negative whole number")
            else:
                counts.append(int(text))
        key, who = "", ""
        if keys is not None:
            key = row["api_key"].strip()
            who = keys.get(key, "")
            if not who:
                errors.append(f"{where}: api key {key!r} is not in {KEYS_FILE}")
        else:
            who = contributor_id(row["contributor_id"])
            if not who:
                errors.append(f"{where}: contributor_id is empty")
        if len(errors) > found:
            return None
        return UsageRow(day, who, key, counts[0], counts[1], where)
