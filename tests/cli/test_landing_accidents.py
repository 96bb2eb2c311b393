"""Accidents in the landing zone are alerts, never money events: a contributor's folder replaced by a symbolic link
or gone leaves their uploads, tokens and payouts exactly as they were, and the folder coming back changes nothing."""

from __future__ import annotations

import os
import shutil

from conftest import corpus, seoul


def _state(onett) -> tuple:
    return (onett.query("SELECT contributor_id, file, status, withdrawn_at FROM uploads ORDER BY ALL"),
            onett.query("SELECT contributor_id, sum(tokens) FROM documents WHERE status = 'accepted' "
                        "AND withdrawn_at IS NULL GROUP BY 1 ORDER BY 1"))


def test_a_folder_turned_symlink_or_gone_is_an_alert_not_a_withdrawal(onett, tmp_path):
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=12)]
    onett.drop("한빛", "a.jsonl", [{"id": f"a{i}", "text": t} for i, t in enumerate(texts[:6])], seoul(2026, 9, 3))
    onett.drop("bob", "b.jsonl", [{"id": f"b{i}", "text": t} for i, t in enumerate(texts[6:])], seoul(2026, 9, 4))
    onett.ok("ingest")
    before = _state(onett)
    assert dict(before[1])["한빛"] > 0

    folder = onett.landing / "한빛"
    moved = tmp_path / "moved-away"
    shutil.move(folder, moved)
    os.symlink(moved, folder)  # someone "tidies up" the disk
    code, out = onett.cli("ingest")
    assert code == 1 and "ALERT: the landing folder of 한빛 is a symbolic link" in out, out
    assert _state(onett) == before

    folder.unlink()  # now gone altogether
    code, out = onett.cli("ingest")
    assert code == 1 and "ALERT: the landing folder of 한빛 has disappeared" in out, out
    assert _state(onett) == before

    shutil.move(moved, folder)  # restored: nothing to do, nothing changed
    out = onett.ok("ingest")
    assert "ALERT" not in out and "nothing new or changed" in out
    assert _state(onett) == before

    (folder / "a.jsonl").unlink()  # what a contributor does to withdraw: remove the file
    onett.ok("ingest")
    withdrawn = _state(onett)
    assert "한빛" not in dict(withdrawn[1]) and dict(withdrawn[1])["bob"] == dict(before[1])["bob"]
    assert any(c == "한빛" and w is not None for c, _, _, w in withdrawn[0])


def test_names_equal_after_normalization_are_two_uploads_never_one(onett, tmp_path):
    import unicodedata

    from onett_portal.uploads import place

    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=40)]
    folder = onett.landing / "alice"
    folder.mkdir(parents=True)
    composed, decomposed = unicodedata.normalize("NFC", "résumé.txt"), unicodedata.normalize("NFD", "résumé.txt")
    assert composed != decomposed
    (folder / decomposed).write_text("\n\n".join(texts[:10]))  # written by a Mac
    (folder / composed).write_text("\n\n".join(texts[10:20]))  # written by the portal
    spare = tmp_path / "upload.part"
    spare.write_text("\n\n".join(texts[20:30]))
    placed = place(spare, folder, composed)  # a third upload of "the same" name takes the next free one
    assert placed == "résumé (2).txt"
    for path in folder.iterdir():
        os.utime(path, (seoul(2026, 9, 5).timestamp(),) * 2)
    onett.ok("ingest")
    rows = onett.query("SELECT file, status, sha256 FROM uploads WHERE contributor_id = 'alice' ORDER BY file")
    assert len(rows) == 3 and len({sha for _, _, sha in rows}) == 3, rows
    assert {status for _, status, _ in rows} == {"accepted"}, rows
    assert {unicodedata.normalize("NFC", f) for f, _, _ in rows} == {f for f, _, _ in rows}


def test_contributor_ids_follow_one_rule_and_never_reach_a_terminal_raw(onett):
    from onett_domain.uploads import valid_contributor_id

    for bad in ["evil\x1b[31m", "a|b", "a/b", ".hidden", " padded", "tab\tbed", "zero\u200bwidth", "", "x" * 201]:
        assert not valid_contributor_id(bad), bad
    for good in ["한빛출판사", "moby-dick-club", "한빛 출판사", "O'Reilly Media"]:
        assert valid_contributor_id(good), good
    texts = [d["text"] for d in corpus("ko_petitions", "petitions.jsonl.gz", limit=3)]
    onett.drop("evil\x1b[31mred", "a.jsonl", [{"id": "a", "text": texts[0]}], seoul(2026, 9, 3))
    code, out = onett.cli("ingest")
    assert "\x1b" not in out and "'evil\\x1b[31mred': a contributor id" in out, out
    assert onett.query("SELECT count(*) FROM uploads")[0][0] == 0
    code, out = onett.cli("statement", "evil\x1b[31m")
    assert code == 2 and "\x1b" not in out
