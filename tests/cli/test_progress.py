"""A long step says how far it is: `onett ingest` prints the progress lines of reading, preprocessing and
deduplication under the submission's line (here after every batch; by default at most every half minute)."""

from __future__ import annotations

import re

from conftest import corpus, seoul


def test_ingest_prints_how_far_each_step_is(onett, monkeypatch):
    import onett_assets.assets.ingest as ingest
    import onett_assets.progress as progress

    monkeypatch.setattr(progress, "REPORT_SECONDS", 0.0)
    monkeypatch.setattr(ingest, "JOB_CHARS", 1 << 14)  # many small batches
    docs = corpus("ko_petitions", "petitions.jsonl.gz", limit=300)
    onett.drop("한빛출판사", "petitions.jsonl", docs, seoul(2026, 9, 3, 10))
    out = onett.ok("ingest")

    read = re.findall(r"raw_submission 한빛출판사 2026-09: ([\d,]+) documents, ([\d.,]+) MB in", out)
    assert len(read) > 3 and int(read[-1][0].replace(",", "")) == 300
    shares = [int(s) for s in re.findall(r"filtered 한빛출판사 2026-09: [\d,]+ documents, [\d.,]+ MB of [\d.,]+ MB "
                                         r"\((\d+)%\) in", out)]
    assert len(shares) > 3 and shares == sorted(shares) and shares[-1] == 100
    assert re.search(r"\(\d+%\) in \d+ s \([\d.]+ MB/s\), about \d+ s left", out)
    steps = re.findall(r"deduped 한빛출판사 2026-09: ([a-z ]+) done, \d+ s so far", out)
    assert steps[:4] == ["documents", "near index", "passage index", "near pairs"]
    assert steps[-1] == "funnels of other submissions"
