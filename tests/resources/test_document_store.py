"""A partition's folder swapped in whole, even when two ingests racing on the partition publish at the same moment
(the second finds the first's folder where it had just moved the old one aside)."""

from __future__ import annotations

import os
from datetime import date

from onett_resources import document_store
from onett_resources.document_store import DocumentStore


def _write(store: DocumentStore, text: str) -> None:
    with store.writing("filtered", "bob", date(2026, 9, 1)) as writer:
        (writer.folder / "part-0.txt").write_text(text)


def test_a_racer_publishing_between_the_two_renames_is_replaced_not_failed(tmp_path, monkeypatch):
    store = DocumentStore(base_dir=str(tmp_path))
    _write(store, "first")
    final = store.folder("filtered", "bob", date(2026, 9, 1))
    rename, raced = os.rename, []

    def racing_rename(src, dst):
        rename(src, dst)
        if str(dst).endswith(".old") and not raced:  # the other ingest publishes its own folder right now
            raced.append(dst)
            racer = final.with_name(".racer.tmp")
            racer.mkdir()
            (racer / "part-0.txt").write_text("racer")
            rename(racer, final)

    monkeypatch.setattr(document_store.os, "rename", racing_rename)
    _write(store, "second")
    assert raced
    assert (final / "part-0.txt").read_text() == "second"
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # nothing moved aside is left behind
