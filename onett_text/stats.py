"""What runs of the pipeline did, step by step: CPU seconds, documents in, and each step's own counts.

Plain data: picklable (it travels back from the worker processes, never any text) and added up across batches
(`a + b`, `sum(parts)` or `PipelineStats.merge(parts)`). A step's counts are a Counter whose keys are strings for
totals ("tokens", "pii_email") and tuples for counts by group (("language", "ko", "documents"), ("removed",
"filler", "word_salad", "tokens")); `summary()` turns them into the funnel's numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from onett_text.pii import PII_KINDS


@dataclass
class StepStats:
    name: str
    cpu_seconds: float = 0.0  # time.process_time of the step's work (all threads of the process)
    documents: int = 0  # documents that went into the step
    counts: Counter = field(default_factory=Counter)  # what the step did

    def __add__(self, other: StepStats) -> StepStats:
        if other.name != self.name:
            raise ValueError(f"cannot add the stats of step {other.name!r} to those of {self.name!r}")
        counts = Counter(self.counts)
        counts.update(other.counts)  # (Counter's + would drop the zeros)
        return StepStats(self.name, self.cpu_seconds + other.cpu_seconds, self.documents + other.documents, counts)


@dataclass
class PipelineStats:
    steps: tuple[StepStats, ...] = ()  # in step order

    def __getitem__(self, name: str) -> StepStats:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def __add__(self, other: PipelineStats) -> PipelineStats:
        mine = {s.name: s for s in self.steps}
        theirs = {s.name: s for s in other.steps}
        merged = [mine[n] + theirs[n] if n in theirs else mine[n] for n in mine]
        return PipelineStats(tuple(merged + [s for n, s in theirs.items() if n not in mine]))

    def __radd__(self, other: int | PipelineStats) -> PipelineStats:
        return self if other == 0 else other + self  # sum() starts from 0

    @classmethod
    def merge(cls, parts: Iterable[PipelineStats]) -> PipelineStats:
        return sum(parts, cls())

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds per step, in step order."""
        return {s.name: s.cpu_seconds for s in self.steps}

    def counts(self) -> Counter:
        """Every step's counts together."""
        total: Counter = Counter()
        for step in self.steps:
            total.update(step.counts)
        return total

    def summary(self) -> dict:
        """The preprocessing funnel of these batches (what the `filtered` stage reports), counts only:

        documents, raw_tokens (as uploaded, whitespace tidied), tokens (after normalization and masking),
        kept_documents, kept_tokens, pii {kind: values masked}, languages [(language, documents, tokens)] and
        rules [(filter_group, rule, documents, tokens)] of the removed documents, both sorted, and minhash
        {texts: distinct kept texts, signed: those long enough to be signed and indexed}."""
        c = self.counts()

        def rows(tag: str) -> list[tuple]:
            keys = sorted({key[1:-1] for key in c if isinstance(key, tuple) and key[0] == tag})
            return [(*key, c[(tag, *key, "documents")], c[(tag, *key, "tokens")]) for key in keys]

        return {
            "documents": self.steps[0].documents if self.steps else 0,
            "raw_tokens": c["raw_tokens"],
            "tokens": c["tokens"],
            "kept_documents": c["kept_documents"],
            "kept_tokens": c["kept_tokens"],
            "pii": {kind: c[kind] for kind in PII_KINDS},
            "languages": rows("language"),
            "rules": rows("removed"),
            "minhash": {"texts": c["minhash_texts"], "signed": c["signed"]},
        }
