"""A partner uploads the documents they hold through the portal (HWP, HWPX, PDF, DOCX, EPUB, HTML), a real
`onett ingest` reads them, and the files page shows each accepted with its tokens and how it was read."""

from __future__ import annotations

import html
import re

import pytest

from conftest import corpus
from portal.conftest import onett_cli
from tests.documents.hwp5 import write_hwp
from tests.documents.hwpx import write_hwpx
from tests.documents.libreoffice import Layout, SourceDoc, render


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, bytes]:
    """Each format holding a different Korean court decision (none of them in the demo)."""
    texts = [d["text"] for d in corpus("ko_court_precedents", "precedents.jsonl.gz", limit=40)
             if 3000 < len(d["text"]) < 20000][:6]
    folder = tmp_path_factory.mktemp("documents")
    made = {
        "판결문.hwp": write_hwp(folder / "판결문.hwp", [texts[0].split("\n")]),
        "판결문.hwpx": write_hwpx(folder / "판결문.hwpx", [texts[1].split("\n")]),
    }
    for number, fmt in enumerate(["pdf", "docx", "epub", "html"], start=2):
        source = SourceDoc(f"판결문{number}", [line for line in texts[number].split("\n") if line.strip()],
                           Layout(header="대법원 판례집"))
        made[f"판결문.{fmt}"] = render([source], [fmt], folder)[0].path
    return {name: path.read_bytes() for name, path in made.items()}


def _rows(table: str) -> dict[str, str]:
    """file -> the row's HTML."""
    return {html.unescape(m.group(1)): m.group(0) for m in
            re.finditer(r'<tr class="state-[^"]*" data-file="([^"]+)".*?</tr>', table, re.DOTALL)}


def test_each_document_format_is_accepted_with_tokens(home, browser, documents):
    bob = browser("bob")
    response = bob.upload(list(documents.items()))
    assert response.status_code == 200, response.text
    assert [f["saved_as"] for f in response.json()["files"]] == list(documents)
    onett_cli(home, "ingest")

    rows = _rows(bob.get("/uploads/files?lang=en").text)
    assert set(rows) == set(documents)
    for name, row in rows.items():
        assert 'data-state="accepted"' in row, (name, row)
        tokens = int(re.search(r"accepted: ([\d,]+) tokens", row).group(1).replace(",", ""))
        assert tokens > 500, (name, row)
        assert f"{name}: read by " in html.unescape(row), (name, row)
