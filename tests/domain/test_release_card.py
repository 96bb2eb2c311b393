"""The release's Croissant description and dataset card: valid JSON-LD that expands offline, every property Croissant
1.0 requires, shards and columns exactly as in the manifest, and the terms a consumer may use the data under."""

from __future__ import annotations

import copy
import json
import socket

import pytest
import yaml
from rdflib import RDF, Graph, Namespace, URIRef

from onett_domain.release_card import croissant, dataset_card

SC = Namespace("https://schema.org/")
CR = Namespace("http://mlcommons.org/croissant/")
RAI = Namespace("http://mlcommons.org/croissant/RAI/")
DCT = Namespace("http://purl.org/dc/terms/")

# Croissant 1.0, "Dataset-level Information > schema.org/Dataset > Required" (@context and @type aside, which the
# JSON-LD parse itself checks), and "Modified and Added Properties": distribution is required too.
# https://docs.mlcommons.org/croissant/docs/croissant-spec.html#required
REQUIRED_DATASET = [DCT.conformsTo, SC.description, SC.license, SC.name, SC.url, SC.creator, SC.datePublished,
                    SC.distribution]
# "Resources > FileObject": name, contentUrl, encodingFormat, and sha256 (checksums are required of versioned
# datasets by "Dataset Versioning/Checkpoints > Checksums"; mlcroissant refuses a FileObject without one).
REQUIRED_FILE_OBJECT = [SC.name, SC.contentUrl, SC.encodingFormat, SC.sha256]
# "Resources > FileSet": includes and encodingFormat.
REQUIRED_FILE_SET = [CR.includes, SC.encodingFormat]
# "RecordSets > Field": a data type and a source.
REQUIRED_FIELD = [CR.dataType, CR.source]

MANIFEST = {
    "release_id": "2026-11-r2",
    "period": "2026-11",
    "created_at": "2026-12-01T03:05:00+00:00",
    "platform": {"name": "onett", "operator": "Example Operator Co.", "url": "https://onett.example"},
    "cut_from": {"earning_through": "2026-12-01T00:00:00+09:00", "documents_digest": "d" * 64,
                 "closed_at": "2026-12-01T01:00:00+09:00"},
    "previous_release": "2026-10-r1",
    "documents": 150, "tokens": 52_345, "bytes": 1_200_000,
    "columns": [
        {"name": "document_id", "type": "string", "description": "stable public id of the document"},
        {"name": "contributor_id", "type": "string", "description": "the contributor the document is credited to"},
        {"name": "text", "type": "string", "description": "the text as credited, personal data masked"},
        {"name": "tokens", "type": "int64", "description": "cl100k_base tokens of the text"},
        {"name": "language", "type": "string", "description": "ko, en or other"},
        {"name": "usage", "type": "string", "description": "pretraining-only or pretraining-and-finetuning"},
        {"name": "evaluation_allowed", "type": "bool", "description": "whether the text may evaluate models"},
        {"name": "terms_expire", "type": "date", "description": "last day the text may be used"},
        {"name": "submitted_at", "type": "timestamp", "description": "when the contributor submitted it"},
        {"name": "content_hash", "type": "string", "description": "BLAKE2b-128 of the text"},
    ],
    "shards": [
        {"file": "shard-00000.parquet", "sha256": "a" * 64, "rows": 100, "tokens": 40_000, "bytes": 800_000},
        {"file": "shard-00001.parquet", "sha256": "b" * 64, "rows": 50, "tokens": 12_345, "bytes": 400_000},
    ],
    "contributors": [
        {"contributor_id": "acme", "documents": 120, "tokens": 45_000, "terms": [
            {"usage": "pretraining-only", "evaluation_allowed": False, "redistribution": "never",
             "expires": "2027-12-31", "agreement_version": "2", "documents": 100, "tokens": 40_000},
            {"usage": "pretraining-and-finetuning", "evaluation_allowed": True, "redistribution": "never",
             "expires": None, "agreement_version": "2", "documents": 20, "tokens": 5_000}]},
        {"contributor_id": "한빛출판사", "documents": 30, "tokens": 7_345, "terms": [
            {"usage": "pretraining-and-finetuning", "evaluation_allowed": False, "redistribution": "never",
             "expires": None, "agreement_version": None, "documents": 30, "tokens": 7_345}]},
    ],
    "languages": [{"language": "ko", "documents": 130, "tokens": 48_000},
                  {"language": "en", "documents": 19, "tokens": 4_300},
                  {"language": "other", "documents": 1, "tokens": 45}],
    "funnel": [{"stage": "raw", "documents": 200, "tokens": 90_000, "meaning": "documents read from the upload"},
               {"stage": "exact_dedup", "documents": 170, "tokens": 60_000, "meaning": "after removing exact copies"},
               {"stage": "accepted", "documents": 150, "tokens": 52_345, "meaning": "credited to the contributor"}],
    "removed": {"since": "2026-10-r1", "withdrawn": ["w1", "w2"], "erased": ["e1"], "expired": [],
                "no_longer_credited": ["n1", "n2", "n3"]},
    "preprocessing": {"normalization": "Unicode NFC, invisible and control characters removed, whitespace tidied",
                      "pii_kinds": ["rrn", "phone", "email", "card", "account"],
                      "rules": ["too_short", "stop_words", "word_salad"],
                      "dedup": "exact and near across all contributors, first submission keeps the credit; text "
                               "matching the consumer's reference corpus removed",
                      "tokenizer": "cl100k_base"},
    "known_limits": ["Near-duplicates are found by MinHash over whole documents."],
}


def empty_month() -> dict:
    manifest = copy.deepcopy(MANIFEST)
    manifest.update(release_id="2026-12-r1", period="2026-12", previous_release=None, documents=0, tokens=0, bytes=0,
                    shards=[], contributors=[], languages=[], funnel=[])
    manifest["removed"] = {"since": None, "withdrawn": [], "erased": [], "expired": [], "no_longer_credited": []}
    return manifest


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Expanding the JSON-LD must need no network (no remote @context): any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the JSON-LD tried to reach the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def expand(description: dict) -> Graph:
    """Parse as JSON-LD through a JSON round trip (what a consumer reads from croissant.json)."""
    return Graph().parse(data=json.dumps(description, ensure_ascii=False), format="json-ld")


def the_dataset(graph: Graph) -> URIRef:
    datasets = list(graph.subjects(RDF.type, SC.Dataset))
    assert len(datasets) == 1, datasets
    return datasets[0]


def missing(graph: Graph, node, properties: list[URIRef]) -> list[str]:
    return [str(p) for p in properties if graph.value(node, p) is None]


@pytest.mark.parametrize("manifest", [MANIFEST, empty_month()], ids=["release", "empty month"])
def test_croissant_is_json_ld_with_every_required_property(manifest):
    description = croissant(manifest)
    assert isinstance(description["@context"], dict)  # inline, never a URL to fetch
    graph = expand(description)
    dataset = the_dataset(graph)
    assert not missing(graph, dataset, REQUIRED_DATASET)
    assert str(graph.value(dataset, DCT.conformsTo)) == "http://mlcommons.org/croissant/1.0"
    assert str(graph.value(dataset, SC.creator / SC.name)) == "Example Operator Co."
    assert str(graph.value(dataset, SC.datePublished)) == manifest["created_at"]
    assert str(graph.value(dataset, SC.identifier)) == manifest["release_id"]
    for kind, required in [(CR.FileObject, REQUIRED_FILE_OBJECT), (CR.FileSet, REQUIRED_FILE_SET),
                           (CR.Field, REQUIRED_FIELD)]:
        for node in graph.subjects(RDF.type, kind):
            assert not missing(graph, node, required), (node, kind)
    record_sets = list(graph.objects(dataset, CR.recordSet))
    assert len(record_sets) == 1 and (record_sets[0], RDF.type, CR.RecordSet) in graph
    # every reference points at a node the description defines
    defined = set(graph.subjects(RDF.type, None))
    for source in graph.objects(None, CR.source):
        assert graph.value(source, CR.fileSet) in defined
    assert graph.value(record_sets[0], CR.key) in defined


def test_croissant_shards_and_fields_match_the_manifest():
    graph = expand(croissant(MANIFEST))
    dataset = the_dataset(graph)
    files = {str(graph.value(f, SC.contentUrl)): f for f in graph.subjects(RDF.type, CR.FileObject)}
    assert sorted(files) == ["shard-00000.parquet", "shard-00001.parquet"]
    for shard in MANIFEST["shards"]:
        node = files[shard["file"]]
        assert (dataset, SC.distribution, node) in graph
        assert str(graph.value(node, SC.sha256)) == shard["sha256"]
        assert str(graph.value(node, SC.encodingFormat)) == "application/x-parquet"
        assert str(graph.value(node, SC.contentSize)) == f"{shard['bytes']} B"
        assert f"{shard['rows']:,} documents" in str(graph.value(node, SC.description))
    file_set = graph.value(predicate=RDF.type, object=CR.FileSet)
    assert (dataset, SC.distribution, file_set) in graph
    assert str(graph.value(file_set, CR.includes)) == "*.parquet"

    expected = {"string": SC.Text, "int64": SC.Integer, "bool": SC.Boolean, "date": SC.Date,
                "timestamp": SC.DateTime}
    fields = {}
    for field in graph.subjects(RDF.type, CR.Field):
        source = graph.value(field, CR.source)
        assert graph.value(source, CR.fileSet) == file_set
        fields[str(graph.value(source, CR.extract / CR.column))] = field
    assert list(fields) != [] and sorted(fields) == sorted(c["name"] for c in MANIFEST["columns"])
    for column in MANIFEST["columns"]:
        assert graph.value(fields[column["name"]], CR.dataType) == expected[column["type"]], column
        assert str(graph.value(fields[column["name"]], SC.name)) == column["name"]


def test_croissant_states_the_terms_and_provenance_in_the_rai_vocabulary():
    graph = expand(croissant(MANIFEST))
    dataset = the_dataset(graph)
    license_text = str(graph.value(dataset, SC.license / SC.description))
    assert "pretraining-only" in license_text and "Redistribution is never allowed" in license_text
    uses = " ".join(str(o) for o in graph.objects(dataset, RAI.dataUseCases))
    assert "evaluation_allowed" in uses and "terms_expire" in uses
    pii = str(graph.value(dataset, RAI.personalSensitiveInformation))
    assert "phone numbers" in pii and "[전화번호]" in pii and "pattern-based" in pii
    for prop in [RAI.dataCollection, RAI.dataPreprocessingProtocol, RAI.dataLimitations,
                 RAI.dataReleaseMaintenancePlan, RAI.dataBiases]:
        assert graph.value(dataset, prop) is not None, prop
    limits = [str(o) for o in graph.objects(dataset, RAI.dataLimitations)]
    assert MANIFEST["known_limits"][0] in limits and any("Language identification" in t for t in limits)


def test_croissant_version_follows_semver_and_unknown_column_types_are_refused():
    assert croissant(MANIFEST)["version"] == "2026.11.2"
    odd = copy.deepcopy(MANIFEST)
    odd["columns"].append({"name": "vector", "type": "list<float>", "description": ""})
    with pytest.raises(ValueError, match="vector"):
        croissant(odd)


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_card_front_matter_is_hugging_face_metadata():
    meta = front_matter(dataset_card(MANIFEST))
    assert meta["language"] == ["ko", "en"] and meta["license"] == "other"
    assert meta["task_categories"] == ["text-generation"] and meta["size_categories"] == ["n<1K"]
    assert meta["configs"][0]["data_files"][0]["path"] == "*.parquet"
    big = copy.deepcopy(MANIFEST)
    big["documents"] = 1_000
    assert front_matter(dataset_card(big))["size_categories"] == ["1K<n<10K"]


def test_card_names_each_contributor_with_tokens_and_terms():
    card = dataset_card(MANIFEST)
    assert "| `acme` | 120 | 45,000 | 86.0% |" in card
    assert "| `한빛출판사` | 30 | 7,345 | 14.0% |" in card
    assert ("pre-training only, no evaluation, never redistributed, until 2027-12-31, agreement v2: 100 documents, "
            "40,000 tokens") in card
    assert "pre-training and fine-tuning, evaluation allowed, never redistributed, no expiry date" in card
    terms = card.split("## Terms of use")[1].split("\n## ")[0]
    assert "Redistribution is never allowed" in terms and "evaluation_allowed" in terms and "terms_expire" in terms
    assert "| `pretraining-only` (pre-training only) | not allowed | never | 2027-12-31 | 1 | 100 | 40,000 |" in terms
    assert "The first documents expire on 2027-12-31" in terms


def test_card_covers_summary_preprocessing_funnel_removals_files_and_limits():
    card = dataset_card(MANIFEST)
    for heading in ["Summary", "Terms of use", "Sources", "Languages", "Preprocessing", "Funnel",
                    "Removed since the previous release", "Files", "Known limits"]:
        assert f"\n## {heading}\n" in card, heading
    assert "| Tokens | 52,345 (cl100k_base) |" in card and "| Previous release | `2026-10-r1` |" in card
    assert "phone numbers -> [전화번호]" in card and "`word_salad`" in card and "reference corpus" in card
    assert "| `exact_dedup` | 170 | 60,000 | 30 | 30,000 | after removing exact copies |" in card
    assert "6 documents of `2026-10-r1`" in card and "| `no_longer_credited` | 3 |" in card
    assert "| `shard-00001.parquet` | 50 | 12,345 | 400,000 | `" + "b" * 64 + "` |" in card
    assert "| `terms_expire` | date |" in card
    limits = card.split("## Known limits")[1]
    assert MANIFEST["known_limits"][0] in limits and "pattern-based" in limits and "heuristic" in limits


def test_empty_month_still_describes_the_release():
    card = dataset_card(empty_month())
    meta = front_matter(card)
    assert meta["size_categories"] == ["n<1K"] and "configs" not in meta
    assert "holds no shard" in card and "This is the first release: nothing was removed." in card
    assert croissant(empty_month())["distribution"][0]["@type"] == "cr:FileSet"


def test_terms_outside_the_vocabulary_stop_the_description():
    for key, value in [("usage", "anything-goes"), ("redistribution", "allowed")]:
        odd = copy.deepcopy(MANIFEST)
        odd["contributors"][0]["terms"][0][key] = value
        for describe in (croissant, dataset_card):
            with pytest.raises(ValueError, match=value):
                describe(odd)


def test_card_tells_of_erasures_cut_after_publication_and_of_tokens_off_the_payout_ratios():
    manifest = copy.deepcopy(MANIFEST)
    manifest["redactions"] = [{"at": "2027-01-05T10:00:00+00:00", "reason": "erasure", "document_ids": ["x1", "x2"]}]
    manifest["ratios_difference"] = [{"contributor_id": "acme", "released_tokens": 45_000, "ratio_tokens": 45_100}]
    card = dataset_card(manifest)
    assert "On 2027-01-05T10:00:00+00:00, 2 documents were cut out of this release (erasure)" in card
    assert "`acme` (45,000 released, 45,100 paid for)" in card
