-- onett warehouse schema. Stable: dashboards and auditors read these tables. Columns are only added at the end.
-- Runs on every connection; everything is IF NOT EXISTS. Older warehouses are brought here by migrations.sql first.

-- Every upload (a file in a contributor's folder), with what became of it. A contributor's uploads of one month
-- make that month's submission (contributor_id, period).
CREATE TABLE IF NOT EXISTS uploads (
    contributor_id VARCHAR NOT NULL,
    period         DATE NOT NULL,       -- first day of the payout month of submitted_at
    file           VARCHAR NOT NULL,    -- path inside the contributor's folder
    sha256         VARCHAR,
    bytes          BIGINT NOT NULL,
    submitted_at   TIMESTAMPTZ NOT NULL,-- the file's modification time
    status         VARCHAR NOT NULL,    -- accepted | partially accepted | rejected | duplicate upload | withdrawn
                                        -- | waiting (terms not settled: `error` says why) | erased
    error          VARCHAR NOT NULL,    -- empty when none
    docs_read      BIGINT NOT NULL,
    docs_skipped   BIGINT NOT NULL,
    mtime_ns       BIGINT NOT NULL,
    notes          VARCHAR DEFAULT '',  -- how it was read (encoding, duplicate upload); then its former status
    withdrawn_at   TIMESTAMPTZ,         -- when the platform first saw the file gone; NULL while it is in
    terms          VARCHAR DEFAULT '',  -- JSON: the usage terms it was read under (onett_domain.terms.Terms)
    terms_stamp    VARCHAR DEFAULT '',  -- size:mtime of its terms sidecar, '' without one
    consent        VARCHAR DEFAULT ''   -- the contributor's accepted agreements when it was read, if it needed one
);
-- Readers written before uploads had their name.
CREATE VIEW IF NOT EXISTS submissions AS SELECT * FROM uploads;

-- One row per document read, with its fate: the audit trail behind every token count.
CREATE TABLE IF NOT EXISTS documents (
    contributor_id VARCHAR NOT NULL,
    period         DATE NOT NULL,
    file           VARCHAR NOT NULL,    -- the upload (`archive/member` for a member of an archive)
    position       BIGINT NOT NULL,     -- line (JSONL/CSV) or row (Parquet) in the file; 0 for a whole-file document
    doc_id         VARCHAR,
    submitted_at   TIMESTAMPTZ NOT NULL,
    content_hash   VARCHAR NOT NULL,    -- BLAKE2b-128 of the normalized text
    raw_tokens     BIGINT NOT NULL,     -- tokens of the text as uploaded (whitespace tidied)
    tokens         BIGINT NOT NULL,     -- tokens after normalization and masking: what is paid when accepted
    status         VARCHAR NOT NULL,    -- accepted | rejected | reference | duplicate | near_duplicate
    reason         VARCHAR NOT NULL,    -- why it is not accepted, in plain words; empty when accepted
    duplicate_of   VARCHAR NOT NULL,    -- the earlier document (contributor/file#position) or reference:<id>
    language       VARCHAR DEFAULT '',  -- ko | en | other
    rule           VARCHAR DEFAULT '',  -- the rule that removed it
    filter_group   VARCHAR DEFAULT '',  -- the funnel stage of that rule
    similarity     DOUBLE,              -- estimated Jaccard to duplicate_of
    withdrawn_at   TIMESTAMPTZ,         -- its upload's withdrawn_at
    earns_from     TIMESTAMPTZ,         -- accepted: when it starts earning (its submission, or when every earlier
                                        -- copy was withdrawn); NULL otherwise. It earns in month P while
                                        -- earns_from < end of P <= withdrawn_at (or never withdrawn) and
                                        -- end of P <= terms_expire_at (or no expiry), and is in P's release.
    terms          VARCHAR DEFAULT '',  -- its upload's terms (JSON)
    terms_expire_at TIMESTAMPTZ,        -- when those terms end (midnight after the expiry date); NULL: no expiry
    erased_at      TIMESTAMPTZ,         -- its text was destroyed at the contributor's or operator's request
    words          BIGINT,              -- whitespace-separated units of the text as credited (a Korean eojeol is
                                        -- one word); NULL for documents read before words were counted
    repeated_tokens BIGINT DEFAULT 0,   -- accepted: tokens of its passages already contributed earlier (or held by
                                        -- the consumer): they never earn. It is credited tokens - repeated_tokens
    handed_on_tokens BIGINT DEFAULT 0,  -- accepted: tokens of passages whose every earlier holder was withdrawn: they
    handed_on_at   TIMESTAMPTZ,         -- earn in month P only when handed_on_at < end of P
    passage_reason VARCHAR DEFAULT '',  -- which of its passages were contributed earlier, in plain words
    hash_key       UUID NOT NULL        -- content_hash as 16 bytes: credit joins the pool on it (several times
                                        -- faster than on the 32 characters); `onett verify` checks they agree
);

CREATE TABLE IF NOT EXISTS reference_documents (
    reference_id   VARCHAR NOT NULL,    -- file (and line) in the reference folder
    content_hash   VARCHAR NOT NULL,
    tokens         BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS reference_state (
    fingerprint    VARCHAR NOT NULL,
    documents      BIGINT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- The "data preprocessing results": documents and tokens remaining after each stage, per submission.
CREATE TABLE IF NOT EXISTS token_funnel (
    contributor_id VARCHAR NOT NULL,
    period         DATE NOT NULL,
    stage          VARCHAR NOT NULL,
    docs           BIGINT NOT NULL,
    tokens         BIGINT NOT NULL,
    stage_order    SMALLINT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_revenue (
    date           DATE NOT NULL,
    requests       BIGINT NOT NULL,
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    revenue        DECIMAL(38, 10) NOT NULL,  -- major currency unit, exactly as reported
    source_file    VARCHAR NOT NULL
);

-- T_i (accepted tokens up to the end of the period) and T_i / sum_j T_j.
CREATE TABLE IF NOT EXISTS contribution_ratios (
    period         DATE NOT NULL,
    contributor_id VARCHAR NOT NULL,
    tokens         BIGINT NOT NULL,
    ratio          DECIMAL(19, 18) NOT NULL   -- rounded for display; amounts use exact token counts
);

CREATE TABLE IF NOT EXISTS payouts (
    period         DATE NOT NULL,
    contributor_id VARCHAR NOT NULL,
    tokens         BIGINT NOT NULL,
    ratio          DECIMAL(19, 18) NOT NULL,
    amount         DECIMAL(38, 3) NOT NULL,   -- major units, a whole number of minor units
    currency       VARCHAR NOT NULL,
    adjustment     DECIMAL(38, 3) DEFAULT 0   -- carried in from recomputed closed months
);

-- One row per closed period: the pool and how it was allocated.
CREATE TABLE IF NOT EXISTS payout_periods (
    period         DATE NOT NULL,
    revenue        DECIMAL(38, 10) NOT NULL,
    alpha          DECIMAL(18, 8) NOT NULL,
    pool           DECIMAL(38, 3) NOT NULL,   -- revenue x alpha rounded down to the minor unit
    allocated      DECIMAL(38, 3) NOT NULL,
    currency       VARCHAR NOT NULL,
    contributors   BIGINT NOT NULL,
    tokens         BIGINT NOT NULL,
    closed_at      TIMESTAMPTZ NOT NULL
);

-- A recomputation of a closed month that would change a published payout is recorded here instead, and carried
-- into the payout of the next month that closes.
CREATE TABLE IF NOT EXISTS payout_adjustments (
    period         DATE NOT NULL,            -- the closed month that was recomputed
    contributor_id VARCHAR NOT NULL,
    amount         DECIMAL(38, 3) NOT NULL,  -- owed now minus paid, or as decided on a dispute (either sign)
    currency       VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL,
    applied_in     DATE,                     -- the month whose payout carries it; NULL until that month closes
    source         VARCHAR DEFAULT 'recomputed',  -- recomputed (the month computed again) | dispute (decided on one)
    dispute_id     BIGINT                    -- the dispute (payments register) an adjustment was decided on
);

-- What personal data was masked, per file (counts only, never the values).
CREATE TABLE IF NOT EXISTS pii_masks (
    contributor_id VARCHAR NOT NULL,
    period         DATE NOT NULL,
    file           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    values_masked  BIGINT NOT NULL
);

-- The persistent near-duplicate index: per distinct text (uploads and reference alike) a text id, its MinHash
-- signature and its LSH band buckets; and the near-duplicate pairs found through them (both directions). Every
-- submission reads the buckets, so a bucket row is two integers: the band number is mixed into the key, and the
-- text is its id, not its 32-character hash.
CREATE TABLE IF NOT EXISTS minhash_texts (
    text_id        BIGINT NOT NULL,     -- 1, 2, 3... in the order texts were indexed
    content_hash   VARCHAR NOT NULL,    -- one row per content hash
    signature      UINTEGER[256] NOT NULL,
    hash_key       UUID NOT NULL        -- content_hash as 16 bytes
);
-- The band buckets (bucket, text_id) are Parquet files beside the warehouse, in shards by bucket
-- (onett_domain/credit/bucket_index.py); a file is part of the index once a committed row here names it.
CREATE TABLE IF NOT EXISTS near_index_files (
    shard          INTEGER NOT NULL,    -- bucket & 15
    file           VARCHAR NOT NULL,    -- relative to <warehouse>.near-index/
    rows           BIGINT NOT NULL,
    generation     BIGINT NOT NULL      -- 1, 2, 3... per write: names files the same way on every platform
);
-- The signatures again, as memory-mapped arrays by text id beside the shards (onett_domain/credit/signature_files.py):
-- a copy that verifies a few candidates without reading the signature table's blocks; listed here like the shards.
CREATE TABLE IF NOT EXISTS signature_files (
    file           VARCHAR NOT NULL,    -- relative to <warehouse>.near-index/, without .ids.npy / .sig.npy
    first_id       BIGINT NOT NULL,     -- the range of text ids it covers (erased texts leave gaps)
    last_id        BIGINT NOT NULL,
    rows           BIGINT NOT NULL,
    generation     BIGINT NOT NULL
);
-- The competing documents' decision keys again, as Parquet files beside the warehouse in shards by content hash
-- (onett_domain/credit/key_shards.py), for the first-come decision on an engine. A row is live while its
-- submission's generation is the one listed in credit_key_versions; files are listed like the band buckets'.
CREATE TABLE IF NOT EXISTS credit_key_files (
    shard          INTEGER NOT NULL,    -- the content hash's first hex digit
    file           VARCHAR NOT NULL,    -- relative to <warehouse>.credit-keys/
    rows           BIGINT NOT NULL,
    generation     BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_key_versions (
    contributor_id VARCHAR NOT NULL,
    period         DATE NOT NULL,
    generation     BIGINT NOT NULL      -- the write that holds the submission's live rows
);
CREATE TABLE IF NOT EXISTS credit_key_state (
    generation     BIGINT NOT NULL      -- the last generation written: never goes back, so a name is never reused
);
-- The passage index: per distinct text (uploads and reference alike) a text id and its passage count, and per text
-- each distinct passage key (BLAKE2b-64 of the passage's letters and digits, onett_text/passages.py) with the
-- position of its first occurrence and its tokens. Keys, not text: they stay when a text is erased, like its hash.
CREATE TABLE IF NOT EXISTS passage_texts (
    text_id        BIGINT NOT NULL,     -- 1, 2, 3... in the order texts were indexed
    content_hash   VARCHAR NOT NULL,    -- one row per content hash
    passages       INTEGER NOT NULL,    -- passages of the text
    hash_key       UUID NOT NULL        -- content_hash as 16 bytes
);
CREATE TABLE IF NOT EXISTS passages (
    passage        UBIGINT NOT NULL,
    text_id        BIGINT NOT NULL,
    ordinal        INTEGER NOT NULL,    -- 1 for the text's first passage
    tokens         INTEGER NOT NULL     -- tokens of every occurrence in the text
);
CREATE TABLE IF NOT EXISTS near_pairs (
    content_hash   VARCHAR NOT NULL,
    other_hash     VARCHAR NOT NULL,
    similarity     DOUBLE NOT NULL,
    hash_key       UUID NOT NULL,       -- content_hash and other_hash as 16 bytes
    other_key      UUID NOT NULL
);

-- The consumer's API usage per partner (1T Club), copied from the usage feed (ONETT_USAGE_DIR) by `api_usage`.
CREATE TABLE IF NOT EXISTS api_usage (
    date           DATE NOT NULL,
    contributor_id VARCHAR NOT NULL,
    api_key        VARCHAR NOT NULL,    -- the key the usage was reported under; '' when the feed names the contributor
    input_tokens   BIGINT NOT NULL,
    output_tokens  BIGINT NOT NULL,
    source         VARCHAR NOT NULL     -- file and line in the feed
);

-- The 1T Club's API credit ledger (`api_credit`), append-only: grants for newly credited tokens, usage drawn on
-- them, usage beyond them (billable), what expired unused, and corrections. Balances are sums of `credit`, never
-- stored. A month's entries are frozen once it is closed; later differences are corrections in a later month.
CREATE TABLE IF NOT EXISTS api_credit_ledger (
    period          DATE NOT NULL,      -- the month the entry belongs to
    contributor_id  VARCHAR NOT NULL,
    entry           VARCHAR NOT NULL,   -- grant | usage | billable | expiry | correction
    grant_period    DATE,               -- the grant it belongs to or draws on (the month its tokens were credited
                                        -- in); NULL for billable usage
    credit          BIGINT NOT NULL,    -- API tokens, signed change of the balance: grant +, usage -, expiry -
    billable        BIGINT NOT NULL,    -- API tokens used beyond the credit (billable entries and their corrections)
    effective_on    DATE,               -- the grant's first day of use
    expires_on      DATE,               -- the grant's first day it can no longer be used; NULL: never
    corrects        VARCHAR NOT NULL,   -- a correction: the kind of entry it corrects; '' otherwise
    corrects_period DATE,               -- a correction: the frozen month it corrects
    note            VARCHAR NOT NULL
);

-- When each month's credit entries were last computed, and frozen (the first computation after the month closed).
CREATE TABLE IF NOT EXISTS api_credit_months (
    period         DATE NOT NULL,
    computed_at    TIMESTAMPTZ NOT NULL,
    frozen_at      TIMESTAMPTZ
);

-- Recitations found in the consumer's model output logs by the recitation guard: one row per span of an output
-- that contributed text holds verbatim, and per document holding it. Offsets and lengths only: the text stays in
-- the log and in the contribution.
CREATE TABLE IF NOT EXISTS recitation_incidents (
    day            DATE NOT NULL,       -- the output's day in the platform time zone (the asset's partition)
    output_at      TIMESTAMPTZ NOT NULL,
    request_id     VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,    -- log file and line
    span_start     INTEGER NOT NULL,    -- characters of the output: output[span_start:span_end]
    span_end       INTEGER NOT NULL,
    tokens         INTEGER NOT NULL,    -- tokens of the span
    contributor_id VARCHAR NOT NULL,
    document_id    VARCHAR NOT NULL,    -- the release's public id of the document holding it
    file           VARCHAR NOT NULL,
    position       BIGINT NOT NULL
);
