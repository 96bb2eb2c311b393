"""How a training release describes itself to the consumer: a Croissant 1.0 description (`croissant.json`, what ML
tooling reads) and a dataset card (`README.md`, what people read), both from the release manifest alone.

Both say the same thing the shards' columns say row by row: the data may be used only under each document's terms
(`usage`, `evaluation_allowed`, `terms_expire`) and is never redistributed. Terms outside that vocabulary stop the
description rather than be written down wrong.

Croissant: https://docs.mlcommons.org/croissant/docs/croissant-spec.html (1.0) and the RAI vocabulary
http://mlcommons.org/croissant/RAI/. The JSON-LD context is given inline, so the description expands offline.
"""

from __future__ import annotations

import json
import re

from onett_domain.terms import USAGES
from onett_text.pii import PLACEHOLDERS

CROISSANT_1_0 = "http://mlcommons.org/croissant/1.0"

# The context of the Croissant 1.0 specification (Appendix 1), plus the two keys the reference implementation
# (mlcroissant) also counts as standard: without them it warns that the context is not the official one.
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

PARQUET = "application/x-parquet"
SHARDS = "shards"  # the FileSet of all shards: one record set spans every shard
RECORDS = "documents"
DATA_TYPES = {
    "string": "sc:Text", "int64": "sc:Integer", "int32": "sc:Integer", "float64": "sc:Float", "bool": "sc:Boolean",
    "date": "sc:Date", "timestamp": "sc:DateTime",
}
LANGUAGES = ("ko", "en")  # the languages the platform accepts (and pays for)
LANGUAGE_NAMES = {"ko": "Korean", "en": "English", "other": "other scripts, or no letters"}
PII_NAMES = {
    "rrn": "resident (and alien) registration numbers", "phone": "phone numbers", "email": "e-mail addresses",
    "card": "card numbers (Luhn-checked)", "account": "bank account numbers",
}
REMOVAL_MEANINGS = {
    "withdrawn": "the contributor withdrew the file",
    "erased": "the text was erased at the contributor's or operator's request",
    "expired": "the document's terms expired",
    "no_longer_credited": "no longer credited to its contributor (for example, an earlier copy came to light)",
}
# Limits true of every release; one is left out when the manifest's own limits already cover its subject.
STANDARD_LIMITS = [
    ("language identification", "Language identification is a heuristic on the letters of the text (Hangul or "
                                "Latin script), not a trained classifier: mixed or other-language text can be "
                                "labelled ko or en."),
    ("masking", "Personal data masking is pattern-based: names, postal addresses and personal details written out in "
                "words are not masked."),
    ("quality rules", "Quality rules are heuristics: they keep some poor text and remove some good text."),
    ("tokenizer", "Token counts are those of the tokenizer named in the summary; other tokenizers count differently."),
    ("rights", "The right to use each text rests on its contributor's agreement and attestation; the platform does "
               "not verify authorship itself beyond deduplication and reference matching."),
]
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
                   (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"),
                   (1_000_000_000_000, "100B<n<1T")]


def croissant(manifest: dict) -> dict:
    """The release as a Croissant 1.0 dataset: one FileObject per shard (with its sha256), a FileSet spanning the
    shards, one record set with a field per shard column, and the terms and provenance as license and RAI text."""
    _check_terms(manifest)
    platform = manifest["platform"]
    organization = {"@type": "sc:Organization", "name": platform["operator"]}
    if platform.get("url"):
        organization["url"] = platform["url"]
    dataset = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_1_0,
        "name": _title(manifest),
        "description": _description(manifest),
        "identifier": manifest["release_id"],
        "version": _version(manifest["release_id"]),
        "citeAs": _cite_as(manifest),
        "datePublished": manifest["created_at"],
        "creator": organization,
        "publisher": organization,
        "license": {"@type": "sc:CreativeWork", "name": f"{platform['name']} contributor terms",
                    "description": " ".join(_terms_rules())},
        "conditionsOfAccess": _TERMS_SHORT,
        "inLanguage": list(LANGUAGES),
        "keywords": ["Korean", "English", "text", "language modeling", "pre-training"],
    }
    # Croissant requires a url: without a public address the release is named by a URN
    dataset["url"] = platform.get("url") or f"urn:onett:release:{manifest['release_id']}"
    dataset.update(_rai(manifest))
    dataset["distribution"] = [_file_object(s) for s in manifest["shards"]] + [{
        "@type": "cr:FileSet",
        "@id": SHARDS,
        "name": SHARDS,
        "description": f"Every Parquet shard of the release ({len(manifest['shards'])}), beside this file.",
        "encodingFormat": PARQUET,
        "includes": "*.parquet",
    }]
    dataset["recordSet"] = [{
        "@type": "cr:RecordSet",
        "@id": RECORDS,
        "name": RECORDS,
        "description": "One record per document: its PII-masked text, its contributor and the terms it may be used "
                       "under.",
        "key": {"@id": f"{RECORDS}/document_id"},
        "field": [_field(c) for c in manifest["columns"]],
    }]
    return dataset


def dataset_card(manifest: dict) -> str:
    """The release for people, in Hugging Face dataset-card form: what is in it, whose it is, the terms it may be used
    under, how it was prepared, what left since the previous release, the files with their checksums, and its
    limits."""
    _check_terms(manifest)
    sections = [
        _front_matter(manifest),
        f"# {_title(manifest)}\n\n{_description(manifest)}",
        _summary(manifest), _terms_section(manifest), _sources(manifest), _languages(manifest),
        _preprocessing(manifest), _funnel(manifest), _removed(manifest), _files(manifest), _limits_section(manifest),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


_TERMS_SHORT = ("Use only under each document's own terms (columns usage, evaluation_allowed, terms_expire); "
                "never redistribute any of it.")


def _terms_rules() -> list[str]:
    return [
        "The data may be used only under the terms each document carries in its own row.",
        "usage: " + "; ".join(f"{code} = {label}" for code, label in USAGES.items()) + ". No other use of the "
        "text is covered, except evaluation where evaluation_allowed allows it.",
        "evaluation_allowed: only documents where it is true may be used to evaluate models.",
        "terms_expire: the last day a document may be used; drop it after that day (empty: no expiry date).",
        "Redistribution is never allowed: no document, in whole or in part, may be passed on, published or shared "
        "beyond the data consumer.",
    ]


def _check_terms(manifest: dict) -> None:
    for contributor in manifest["contributors"]:
        for terms in contributor["terms"]:
            if terms["usage"] not in USAGES:
                raise ValueError(f"{contributor['contributor_id']}: usage {terms['usage']!r} is not one of "
                                 f"{', '.join(USAGES)}")
            if terms.get("redistribution", "never") != "never":
                raise ValueError(f"{contributor['contributor_id']}: redistribution {terms['redistribution']!r}; "
                                 "releases are never redistributed")


def _title(manifest: dict) -> str:
    return f"{manifest['platform']['name']} training release {manifest['release_id']}"


def _description(manifest: dict) -> str:
    platform = manifest["platform"]
    text = (f"Text contributed to {platform['name']} (operated by {platform['operator']}) and credited to its "
            f"contributors in {manifest['period']}: ")
    if not manifest["documents"]:
        return text + f"no document was credited in that month, so the release holds no shard. {_TERMS_SHORT}"
    return (text + f"{manifest['documents']:,} documents, {manifest['tokens']:,} tokens, {_mostly(manifest)}, "
            f"personal data masked, in {_count(len(manifest['shards']), 'Parquet shard')}. {_TERMS_SHORT}")


def _mostly(manifest: dict) -> str:
    ranked = sorted((lang for lang in manifest["languages"] if lang["language"] in LANGUAGES),
                    key=lambda lang: -lang["tokens"])
    if ranked and manifest["tokens"] and ranked[0]["tokens"] * 2 > manifest["tokens"]:
        return f"mostly {LANGUAGE_NAMES[ranked[0]['language']]}"
    return "in " + " and ".join(LANGUAGE_NAMES[code] for code in LANGUAGES)


def _version(release_id: str) -> str:
    """Croissant asks for MAJOR.MINOR.PATCH: `2026-11-r2` becomes 2026.11.2, which orders like the releases (the id
    itself is the dataset's `identifier`)."""
    found = re.fullmatch(r"(\d{4})-(\d{2})-r(\d+)", release_id)
    return f"{int(found[1])}.{int(found[2])}.{int(found[3])}" if found else release_id


def _cite_as(manifest: dict) -> str:
    """A BibTeX entry, the form Croissant recommends for `citeAs` (the author braced twice: an organization, not
    a person's name for BibTeX to split)."""
    platform = manifest["platform"]
    entries = [f"title = {{{_title(manifest)}}}", f"author = {{{{{platform['operator']}}}}}",
               f"year = {{{manifest['created_at'][:4]}}}", f"version = {{{manifest['release_id']}}}"]
    if platform.get("url"):
        entries.append(f"url = {{{platform['url']}}}")
    key = re.sub(r"\W", "_", f"{platform['name']}_{manifest['release_id']}", flags=re.ASCII)
    return f"@misc{{{key},\n  " + ",\n  ".join(entries) + "\n}"


def _file_object(shard: dict) -> dict:
    return {
        "@type": "cr:FileObject",
        "@id": shard["file"],
        "name": shard["file"],
        "description": f"{shard['rows']:,} documents, {shard['tokens']:,} tokens.",
        "contentUrl": shard["file"],
        "contentSize": f"{shard['bytes']} B",
        "encodingFormat": PARQUET,
        "sha256": shard["sha256"],
    }


def _field(column: dict) -> dict:
    if column["type"] not in DATA_TYPES:
        raise ValueError(f"column {column['name']}: no Croissant data type for {column['type']!r}")
    return {
        "@type": "cr:Field",
        "@id": f"{RECORDS}/{column['name']}",
        "name": column["name"],
        "description": column.get("description") or column["name"],
        "dataType": DATA_TYPES[column["type"]],
        "source": {"fileSet": {"@id": SHARDS}, "extract": {"column": column["name"]}},
    }


def _rai(manifest: dict) -> dict:
    """The Croissant RAI properties that fit: how the text was collected and prepared, its personal data, the uses it
    is for, its biases and limits, and how releases are maintained."""
    platform, cut = manifest["platform"], manifest["cut_from"]
    rai = {
        "rai:dataCollection": (
            f"Text uploaded to the {platform['name']} platform by {len(manifest['contributors'])} contributors who "
            "accepted its contributor agreement and chose the terms of each upload; contributors are paid in "
            f"proportion to their accepted tokens. This release holds the documents credited in {manifest['period']}, "
            f"cut from the platform's records through {cut['earning_through']}."),
        "rai:dataPreprocessingProtocol": _preprocessing_steps(manifest),
        "rai:personalSensitiveInformation": _pii_text(manifest),
        "rai:dataUseCases": _terms_rules(),
        "rai:dataLimitations": _limits(manifest),
        "rai:dataReleaseMaintenancePlan": (
            "One release per month (`YYYY-MM-rN`; a later cut of the same month that differs becomes the next "
            "number). A published release does not change, except that erased documents are cut out of every release "
            "holding them (recorded under `redactions` in manifest.json). Each release lists by document id what left "
            "since the previous release (withdrawn, erased, terms expired, no longer credited), so copies of earlier "
            "releases can be brought in line."),
    }
    share = _largest_share(manifest)
    if share is not None:
        rai["rai:dataBiases"] = (
            f"The text comes from {len(manifest['contributors'])} contributors, not from a sample of the language: "
            f"the largest supplies {share:.1%} of the tokens, so its genres and style weigh accordingly.")
    return rai


def _largest_share(manifest: dict) -> float | None:
    if not manifest["tokens"] or not manifest["contributors"]:
        return None
    return max(c["tokens"] for c in manifest["contributors"]) / manifest["tokens"]


def _preprocessing_steps(manifest: dict) -> list[str]:
    steps = manifest["preprocessing"]
    return [
        f"Normalization: {steps['normalization']}.",
        f"Personal data masking before anything is counted: {_pii_list(manifest)}.",
        f"Quality rules ({len(steps['rules'])}), each removing whole documents: {', '.join(steps['rules'])}.",
        f"Deduplication and reference removal: {steps['dedup']}.",
        f"Tokens counted with {steps['tokenizer']}.",
    ]


def _pii_list(manifest: dict) -> str:
    return ", ".join(f"{PII_NAMES.get(k, k)} -> {PLACEHOLDERS.get('pii_' + k, '[...]')}"
                     for k in manifest["preprocessing"]["pii_kinds"])


def _pii_text(manifest: dict) -> str:
    return (f"Personal data found by pattern is replaced with fixed placeholders before release: "
            f"{_pii_list(manifest)}. Masking is pattern-based: names, postal addresses and personal details written "
            "out in words are not masked and may remain in the text.")


def _limits(manifest: dict) -> list[str]:
    given = list(manifest.get("known_limits", []))
    covered = " ".join(given).lower()
    return given + [text for subject, text in STANDARD_LIMITS if subject not in covered]


def _yaml(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def _size_category(documents: int) -> str:
    return next((label for bound, label in SIZE_CATEGORIES if documents < bound), "n>1T")


def _front_matter(manifest: dict) -> str:
    lines = [
        "---",
        f"pretty_name: {_yaml(_title(manifest))}",
        "language:", *(f"- {code}" for code in LANGUAGES),
        "license: other",
        f"license_name: {_yaml(manifest['platform']['name'] + '-contributor-terms')}",
        "task_categories:", "- text-generation",
        "size_categories:", f"- {_yaml(_size_category(manifest['documents']))}",
    ]
    if manifest["shards"]:
        lines += ["configs:", "- config_name: default", "  data_files:", "  - split: train",
                  f"    path: {_yaml('*.parquet')}"]
    return "\n".join(lines + ["---"])


def _table(header: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _summary(manifest: dict) -> str:
    cut = manifest["cut_from"]
    rows = [
        ["Release", f"`{manifest['release_id']}`"],
        ["Period", f"{manifest['period']} (the documents credited in that month)"],
        ["Cut from", f"the platform's records through {cut['earning_through']}"],
        ["Payouts closed", cut.get("closed_at") or "not yet when cut"],
        ["Published", manifest["created_at"]],
        ["Previous release", f"`{manifest['previous_release']}`" if manifest.get("previous_release") else "none"],
        ["Contributors", f"{len(manifest['contributors']):,}"],
        ["Documents", f"{manifest['documents']:,}"],
        ["Tokens", f"{manifest['tokens']:,} ({manifest['preprocessing']['tokenizer']})"],
        ["Shards", f"{_count(len(manifest['shards']), 'Parquet file')}, {manifest['bytes']:,} bytes"],
        ["Contents digest", f"`{cut['documents_digest']}`"],
    ]
    text = "## Summary\n\n" + _table(["", ""], rows)
    if not manifest["documents"]:
        text += "\n\nNo document was credited in this month: the release holds no shard."
    return text


def _describe_terms(terms: dict) -> str:
    parts = [USAGES[terms["usage"]], "evaluation allowed" if terms["evaluation_allowed"] else "no evaluation",
             "never redistributed", f"until {terms['expires']}" if terms.get("expires") else "no expiry date"]
    if terms.get("agreement_version"):
        parts.append(f"agreement v{terms['agreement_version']}")
    return ", ".join(parts)


def _terms_section(manifest: dict) -> str:
    rules = _terms_rules()
    text = f"## Terms of use\n\n**{rules[0]}**\n\n" + "\n".join(f"- {rule}" for rule in rules[1:])
    combined: dict[tuple, list] = {}
    for contributor in manifest["contributors"]:
        for terms in contributor["terms"]:
            key = (terms["usage"], terms["evaluation_allowed"], terms.get("expires") or "")
            entry = combined.setdefault(key, [set(), 0, 0])
            entry[0].add(contributor["contributor_id"])
            entry[1] += terms["documents"]
            entry[2] += terms["tokens"]
    if not combined:
        return text
    rows = [[f"`{usage}` ({USAGES[usage]})", "allowed" if evaluation else "not allowed", "never",
             expires or "no expiry date", len(ids), f"{docs:,}", f"{tokens:,}"]
            for (usage, evaluation, expires), (ids, docs, tokens) in sorted(combined.items())]
    text += "\n\nThe terms in this release:\n\n" + _table(
        ["usage", "evaluation", "redistribution", "expires", "contributors", "documents", "tokens"], rows)
    expiring = sorted({k[2] for k in combined if k[2]})
    if expiring:
        text += f"\n\nThe first documents expire on {expiring[0]}: drop them after that day."
    return text


def _sources(manifest: dict) -> str:
    rows = [[f"`{c['contributor_id']}`", f"{c['documents']:,}", f"{c['tokens']:,}",
             _share(c["tokens"], manifest["tokens"]),
             "<br>".join(f"{_describe_terms(t)}: {t['documents']:,} documents, {t['tokens']:,} tokens"
                         for t in c["terms"])]
            for c in manifest["contributors"]]
    text = ("## Sources\n\nEvery document is credited to the contributor who uploaded it (named by id; the `"
            "contributor_id` column).\n\n" + _table(["contributor", "documents", "tokens", "share of tokens", "terms"],
                                                   rows))
    differences = manifest.get("ratios_difference") or []
    if differences:
        text += "\n\nReleased tokens differ from the month's payout ratios for: " + "; ".join(
            f"`{d['contributor_id']}` ({d['released_tokens']:,} released, {d['ratio_tokens']:,} paid for)"
            for d in differences) + "."
    return text


def _languages(manifest: dict) -> str:
    rows = [[f"`{lang['language']}` ({LANGUAGE_NAMES.get(lang['language'], lang['language'])})",
             f"{lang['documents']:,}", f"{lang['tokens']:,}", _share(lang["tokens"], manifest["tokens"])]
            for lang in manifest["languages"]]
    return ("## Languages\n\nAs told by the letters of each document (the `language` column): Hangul makes it `ko`, "
            "Latin letters `en`.\n\n" + _table(["language", "documents", "tokens", "share of tokens"], rows))


def _preprocessing(manifest: dict) -> str:
    steps = manifest["preprocessing"]
    return "\n".join([
        "## Preprocessing", "",
        "Each document went through these steps in order; the text in the shards is the text as credited.", "",
        f"1. **Normalization**: {steps['normalization']}.",
        f"2. **Personal data masking** (before tokens are counted): {_pii_list(manifest)}. Only the placeholder "
        "stays in the text.",
        f"3. **Quality rules** ({len(steps['rules'])}), each removing whole documents: "
        + ", ".join(f"`{r}`" for r in steps["rules"]) + ".",
        f"4. **Deduplication and reference-corpus removal**: {steps['dedup']}.",
        f"5. **Tokens** counted with `{steps['tokenizer']}`.",
    ])


def _funnel(manifest: dict) -> str:
    rows, before = [], None
    for stage in manifest["funnel"]:
        gone = (f"{before['documents'] - stage['documents']:,}", f"{before['tokens'] - stage['tokens']:,}") \
            if before else ("", "")
        rows.append([f"`{stage['stage']}`", f"{stage['documents']:,}", f"{stage['tokens']:,}", *gone,
                     stage.get("meaning", "")])
        before = stage
    if not rows:
        return "## Funnel\n\nNo submission of this period went through preprocessing."
    return ("## Funnel\n\nDocuments and tokens left after each preprocessing stage, for the submissions of the "
            "period.\n\n" + _table(["stage", "documents", "tokens", "removed documents", "removed tokens", "meaning"],
                                   rows))


def _removed(manifest: dict) -> str:
    removed = manifest["removed"]
    if not removed.get("since"):
        text = "## Removed since the previous release\n\nThis is the first release: nothing was removed."
    else:
        reasons = [r for r in removed if r != "since"]
        rows = [[f"`{r}`", f"{len(removed[r]):,}", REMOVAL_MEANINGS.get(r, r)] for r in reasons]
        total = sum(len(removed[r]) for r in reasons)
        text = (f"## Removed since the previous release\n\n{total:,} documents of `{removed['since']}` are not in "
                "this release. Their ids are in `manifest.json` under `removed`; withdrawn, erased and expired "
                "documents must be dropped from copies of earlier releases.\n\n"
                + _table(["reason", "documents", "meaning"], rows))
    for redaction in manifest.get("redactions", []):
        text += (f"\n\nOn {redaction['at']}, {len(redaction['document_ids']):,} documents were cut out of this "
                 f"release ({redaction['reason']}): the summary totals and the shard list are after the cut, the "
                 "terms, contributor, language and funnel tables from before it. The ids are in `manifest.json` "
                 "under `redactions`.")
    return text


def _files(manifest: dict) -> str:
    shards = [[f"`{s['file']}`", f"{s['rows']:,}", f"{s['tokens']:,}", f"{s['bytes']:,}", f"`{s['sha256']}`"]
              for s in manifest["shards"]]
    columns = [[f"`{c['name']}`", c["type"], c.get("description", "")] for c in manifest["columns"]]
    text = ("## Files\n\n`README.md` (this card), `croissant.json` (the same release in Croissant 1.0), "
            "`manifest.json` (everything here, with the removed document ids) and the Parquet shards, each with its "
            "sha256:\n\n")
    text += _table(["file", "documents", "tokens", "bytes", "sha256"], shards) if shards else "No shard."
    return text + "\n\nColumns of every shard:\n\n" + _table(["column", "type", "description"], columns)


def _limits_section(manifest: dict) -> str:
    return "## Known limits\n\n" + "\n".join(f"- {limit}" for limit in _limits(manifest))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
