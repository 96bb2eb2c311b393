"""`onett verify`: the books and the stored copies checked against what produced them.

Every closed month is recomputed from the documents and revenue and compared with what it published plus the
adjustments recorded since; the money checks run; every archived upload is decrypted and hashed against its
recorded sha256; every Parquet part is read through against its page checksums; the near-duplicate index's derived
copies are compared with what they copy, the keys credit joins on with the content hashes they encode, the recitation
index's source parts with their catalog. Nothing is changed: a problem is named, and the exit status is 1, so a
corrupted file is found by the operator before it is ever read as empty."""

from __future__ import annotations

import hashlib

from onett_cli.session import Session, say
from onett_domain import payouts as months
from onett_domain import recitation
from onett_domain.credit import bucket_index, key_shards, signature_files
from onett_resources.document_store import MissingStage
from onett_resources.parquet_parts import DamagedPart, verify_parts
from onett_resources.recitation_store import IndexMissing
from onett_resources.sealed_files import SealedFileError
from onett_resources.upload_archive import ArchiveError
from onett_resources.warehouse import hash_key_mismatches

PARTS = (("raw_submission", "docs"), ("filtered", "docs"), ("filtered", "index"))


def _books(s: Session, conn) -> list[str]:
    policy = s.resources["consent"].sharing(s.policy)
    problems = [f"{p:%Y-%m}: payouts sum to {paid}, the pool is {pool}" for p, pool, paid, *_ in
                months.unbalanced_months(conn)]
    problems += [f"{c} {p:%Y-%m}: {a} tokens credited, the funnel says {b}" for c, p, a, b in
                 months.credited_funnel_mismatches(conn)]
    closed = [r[0] for r in conn.execute("SELECT period FROM payout_periods ORDER BY 1").fetchall()]
    for period in closed:
        for contributor, difference in months.unrecorded_differences(conn, period, policy):
            problems.append(f"{period:%Y-%m}: {contributor} would be paid {difference:+} {policy.currency} more than "
                            "published and recorded in adjustments (run `onett close` for the month to record it, or "
                            "find who changed the published payouts)")
    say(f"books: {len(closed)} closed month(s) recomputed" + (f", {len(problems)} problem(s)" if problems else ", all agree"))
    return problems


def _archive(s: Session, conn) -> list[str]:
    archive, problems, checked = s.resources["upload_archive"], [], 0
    for contributor, sha256 in conn.execute(
            "SELECT DISTINCT contributor_id, sha256 FROM uploads WHERE sha256 <> '' "
            "AND status IN ('accepted', 'partially accepted', 'withdrawn') ORDER BY 1, 2").fetchall():
        if not archive.location(contributor, sha256).exists():
            continue  # erased, or kept before the archive existed: nothing stored to check
        digest = hashlib.sha256()
        try:
            for chunk in archive.read(contributor, sha256):
                digest.update(chunk)
        except (ArchiveError, SealedFileError, ValueError, OSError) as exc:
            problems.append(f"archive {contributor}/{sha256[:12]}: unreadable ({exc.__class__.__name__}: {exc})")
            continue
        checked += 1
        if digest.hexdigest() != sha256:
            problems.append(f"archive {contributor}/{sha256[:12]}: its content hashes to {digest.hexdigest()[:12]}")
    say(f"archive: {checked} upload(s) decrypted and hashed" + (f", {len(problems)} problem(s)" if problems else ""))
    return problems


def _parts(s: Session, conn) -> list[str]:
    store, problems, read = s.resources["document_store"], [], 0
    for contributor, period in conn.execute("SELECT DISTINCT contributor_id, period FROM uploads ORDER BY 1, 2").fetchall():
        for stage, kind in PARTS:
            try:
                parts = store.parts(stage, contributor, period, kind)
            except MissingStage:
                continue
            for path in parts:
                try:
                    verify_parts([path])
                    read += 1
                except DamagedPart as exc:  # a truncated file, a page failing its checksum, a wrong magic number
                    problems.append(f"part {str(exc)[:300]}")
    say(f"parts: {read} Parquet part(s) read through" + (f", {len(problems)} problem(s)" if problems else ""))
    return problems


def _index_copies(conn) -> list[str]:
    """The near-duplicate index's derived copies (sorted bucket rows, signature files) and the credit key shards
    against what they copy: a damaged one would change which texts count as copies, so it is named before a
    submission reads it."""
    arrays, problems = bucket_index.check_sorted(conn)
    files, more = signature_files.check(conn)
    problems += more
    keys, more = key_shards.check(conn)
    problems += more
    say(f"index copies: {arrays} sorted bucket array(s) with their filters, {files} signature file(s) and {keys} "
        "credit key row(s) compared with what they copy" + (f", {len(problems)} problem(s)" if problems else ""))
    return problems


def _hash_keys(conn) -> list[str]:
    """The 16-byte keys first-come credit joins documents and near pairs on, against the content hashes they encode:
    a key that drifted would have a text compete with the wrong documents."""
    problems = [f"{table}.{key}: {rows} row(s) whose key is not their {source}"
                for table, key, source, rows in hash_key_mismatches(conn)]
    say("hash keys: compared with the content hashes"
        + (f", {len(problems)} problem(s)" if problems else ", all agree"))
    return problems


def _recitation_sources(s: Session) -> list[str]:
    """The recitation guard's sources (which documents hold each text): a part lost or damaged would name the wrong
    documents, or fail the next update."""
    try:
        index = s.resources["recitation_store"].load()
    except IndexMissing:
        say("recitation index: none built yet")
        return []
    parts, problems = recitation.check_sources(index)
    say(f"recitation index: {parts} source part(s) checked" + (f", {len(problems)} problem(s)" if problems else ""))
    return problems


def cmd_verify(args) -> int:
    s = Session()
    with s.resources["warehouse"].reader() as conn:
        problems = _books(s, conn) + _archive(s, conn) + _parts(s, conn) + _index_copies(conn) + _hash_keys(conn)
    problems += _recitation_sources(s)
    for problem in problems:
        say(f"PROBLEM: {problem}")
    say("verified: everything agrees" if not problems else f"{len(problems)} problem(s) found; nothing was changed")
    return 1 if problems else 0
