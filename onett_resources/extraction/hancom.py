"""What the HWP 5 and HWPX readers share: a budget of characters and the note on private-use characters."""

from __future__ import annotations

import re

from onett_resources.extraction.base import Section, UnsupportedFormat

_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


class Budget:
    """The characters a file may still yield (`limits.max_text_chars`), spent paragraph by paragraph so a huge
    section is refused while it is read, not after."""

    def __init__(self, chars: int):
        self.limit = self.left = chars

    def spend(self, text: str) -> str:
        self.left -= len(text)
        if self.left < 0:
            raise UnsupportedFormat(f"more than {self.limit:,} characters of text")
        return text


def private_use_notes(sections: list[Section]) -> list[str]:
    """Hancom fonts place old Hangul (옛한글, in 한양 PUA) and some symbols in the Private Use Area; such
    characters are kept as they are, but the contributor should know how many there are."""
    count = sum(len(_PRIVATE_USE.findall(section.text)) for section in sections)
    return [f"{count:,} private-use characters (old Hangul or font symbols) kept as they are"] if count else []
