"""POST /v1/recitation: every answer the API gives (200 with and without a recited span, 400, 401, 413, 429, 503), what
a consumer and an operator see, reloading a new index, and the route mounted in the portal."""

from __future__ import annotations

import random
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from onett_portal import recitation as service_module
from onett_portal.recitation import MAX_BODY_BYTES, RecitationService, RecitationSettings, load_recitation_settings
from onett_resources.settings import SettingsError
from onett_text.passages import encode
from onett_text.recitation import RecitationIndex

ENC = "cl100k_base"
CONSUMER = "consumer-key-0123456789abcdef"
OPERATOR = "operator-key-0123456789abcdef"
WORDS = ("river harbor lantern quiet meadow copper whistle orchard falcon velvet amber signal thunder pebble garden "
         "canvas market ledger cobalt willow marble saddle beacon timber 바다 산책 기록 햇살 정원 시장 노래 편지").split()


def prose(seed: int, words: int) -> str:
    rng = random.Random(seed)
    sentences = []
    while words > 0:
        n = rng.randint(6, 14)
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
        words -= n
    return " ".join(sentences)


DOCS = {1: prose(1, 900), 2: prose(2, 900), 3: prose(3, 900)}
SOURCES = {1: {"contributor_id": "press-a", "documents": ["a/one.jsonl:1"]},
           2: {"contributor_id": "press-b", "documents": ["b/two.jsonl:4", "b/two-copy.jsonl:4"]},
           3: {"contributor_id": "press-c", "documents": ["c/three.jsonl:2"]}}


def save_index(folder, docs=DOCS, sources=SOURCES):
    RecitationIndex.build(((i, encode(t, ENC)) for i, t in docs.items()), ENC).save(folder, sources=sources)


def settings_for(tmp_path, **changes) -> RecitationSettings:
    values = dict(index_dir=tmp_path / "index", consumer_keys={"acme": CONSUMER}, operator_keys={"ops": OPERATOR},
                  min_tokens=50, workers=2, queue=2)
    return RecitationSettings(**(values | changes))


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setattr(service_module, "RELOAD_SECONDS", 0.0)
    save_index(tmp_path / "index")
    return RecitationService(settings_for(tmp_path))


def client_of(service: RecitationService) -> TestClient:
    return TestClient(Starlette(routes=service.routes()))


def post(client, key: str | None = CONSUMER, **kwargs):
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return client.post("/v1/recitation", headers=headers, **kwargs)


def recited() -> tuple[str, str]:
    """An output with ~80 words of document 2 in the middle, and the copied text."""
    copied = " ".join(DOCS[2].split()[200:280])
    return f"{prose(50, 60)}\n{copied}\n{prose(51, 60)}", copied


def test_a_recited_span_is_found_and_fresh_text_is_ok(service):
    client = client_of(service)
    output, copied = recited()
    answer = post(client, json={"output": output})
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "recites" and body["min_tokens"] == 50 and len(body["spans"]) == 1
    span = body["spans"][0]
    assert output[span["start"]:span["end"]] in copied and span["end"] - span["start"] > 0.9 * len(copied)
    assert span["tokens"] == span["end_token"] - span["start_token"] >= 50
    assert span["source_count"] == 1 and "sources" not in span  # a consumer sees how many texts, not whose
    fresh = post(client, json={"output": prose(99, 400)}).json()
    assert fresh == {"verdict": "ok", "tokens": fresh["tokens"], "complete": True, "span_count": 0, "spans": [],
                     "min_tokens": 50}


def test_the_operator_sees_whose_text_it_is(service):
    output, _ = recited()
    span = post(client_of(service), OPERATOR, json={"output": output}).json()["spans"][0]
    (source,) = span["sources"]
    assert source["text_id"] == 2 and source["contributor_id"] == "press-b"
    assert source["documents"] == ["b/two.jsonl:4", "b/two-copy.jsonl:4"] and source["document_count"] == 2
    assert encode(DOCS[2], ENC)[source["position"]:source["position"] + span["tokens"]].tolist() == \
        encode(output, ENC)[span["start_token"]:span["end_token"]].tolist()


def test_a_batch_is_answered_in_order(service):
    output, _ = recited()
    answer = post(client_of(service), json={"outputs": [prose(7, 300), output, "짧은 글"]})
    assert answer.status_code == 200
    assert [r["verdict"] for r in answer.json()["results"]] == ["ok", "recites", "ok"]


def test_a_missing_or_wrong_key_gets_one_answer_that_says_nothing(service):
    client = client_of(service)
    answers = [post(client, None, json={"output": "x"}),
               post(client, "consumer-key-0123456789abcdeX", json={"output": "x"}),
               post(client, None, json={"output": "x"}, headers={"authorization": f"Basic {CONSUMER}"}),
               post(client, "", json={"output": "x"}),
               post(client, None, content=b"\xff not even json", headers={"authorization": "Bearer"})]
    assert {a.status_code for a in answers} == {401}
    assert {a.text for a in answers} == {'{"error":"unauthorized"}'}
    assert {a.headers["www-authenticate"] for a in answers} == {"Bearer"}


@pytest.mark.parametrize("content, message", [
    (b'{"output": ""}', "is empty"),
    (b'{"output": "  \\n "}', "is empty"),
    (b'{"outputs": ["fine", ""]}', '"outputs"[1] is empty'),
    (b'{"outputs": []}', "non-empty list"),
    (b'{"outputs": "text"}', "non-empty list"),
    (b'{"outputs": [1]}', "must be a string"),
    (b'{"output": "a", "outputs": ["b"]}', '"output" (a string) or "outputs"'),
    (b'{"text": "a"}', '"output" (a string) or "outputs"'),
    (b'["a"]', '"output" (a string) or "outputs"'),
    (b'{"output": "a"', "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"output": "caf\xe9"}', "not valid UTF-8 (byte 15)"),
    (b'{"output": "\\ud800 half"}', "lone surrogate"),
])
def test_bodies_that_are_not_outputs_are_refused_with_a_reason(service, content, message):
    answer = post(client_of(service), content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text


def test_a_batch_over_the_limit_is_refused(service):
    answer = post(client_of(service), json={"outputs": ["text"] * 65})
    assert answer.status_code == 400 and "at most 64" in answer.json()["error"]


def test_a_body_over_a_megabyte_is_refused(service):
    client = client_of(service)
    big = b'{"output": "' + b"a" * MAX_BODY_BYTES + b'"}'
    assert post(client, content=big).status_code == 413  # by Content-Length, unread

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"output": "'
        for _ in range(20):
            yield b"a" * (64 << 10)
        yield b'"}'
    streamed = post(client, content=chunks())
    assert streamed.status_code == 413 and "at most" in streamed.json()["error"]
    assert post(client, content=b'{"output": "ok"}', headers={"content-length": "12x"}).status_code == 400
    assert post(client, json={"output": "a" * (MAX_BODY_BYTES - 100)}).status_code == 200  # just under


def test_no_index_yet_is_503_until_one_is_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(service_module, "RELOAD_SECONDS", 0.0)
    service = RecitationService(settings_for(tmp_path))
    client = client_of(service)
    output, _ = recited()
    waiting = post(client, json={"output": output})
    assert waiting.status_code == 503 and waiting.headers["retry-after"]
    save_index(tmp_path / "index")
    assert post(client, json={"output": output}).json()["verdict"] == "recites"


def test_a_new_index_is_used_once_its_manifest_changes(service, tmp_path):
    client = client_of(service)
    output, _ = recited()
    assert post(client, json={"output": output}).json()["verdict"] == "recites"
    save_index(tmp_path / "index", docs={1: DOCS[1], 3: DOCS[3]}, sources={})  # text 2 withdrawn
    assert post(client, json={"output": output}).json()["verdict"] == "ok"


def test_the_manifest_is_looked_at_at_most_once_a_second(tmp_path):
    save_index(tmp_path / "index")
    service = RecitationService(settings_for(tmp_path))
    client = client_of(service)
    output, _ = recited()
    assert post(client, json={"output": output}).json()["verdict"] == "recites"
    save_index(tmp_path / "index", docs={1: DOCS[1]}, sources={})
    assert post(client, json={"output": output}).json()["verdict"] == "recites"  # within the second: old index
    service.holder.checked -= 1.0
    assert post(client, json={"output": output}).json()["verdict"] == "ok"


def test_a_flood_beyond_the_workers_and_queue_gets_429(tmp_path):
    save_index(tmp_path / "index")
    service = RecitationService(settings_for(tmp_path, workers=1, queue=1))
    release = threading.Event()
    started = threading.Semaphore(0)
    check_all = service.check_all

    def slow(*args):
        started.release()
        release.wait(10)
        return check_all(*args)

    service.check_all = slow
    answers: list = []
    with TestClient(Starlette(routes=service.routes())) as client:
        threads = [threading.Thread(target=lambda: answers.append(post(client, json={"output": prose(5, 100)})))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        assert started.acquire(timeout=10)  # one running, one waiting for the worker
        deadline = time.monotonic() + 10
        while service.admitted < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = [post(client, json={"output": prose(6, 100)}) for _ in range(5)]
        release.set()
        for thread in threads:
            thread.join(10)
    assert {r.status_code for r in refused} == {429}
    assert {r.headers["retry-after"] for r in refused} == {"1"}
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert service.admitted == 0


def test_settings_name_each_key_holder_once(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path), "ONETT_RECITATION_API_KEYS": f"acme:{CONSUMER}, beta:{CONSUMER}x",
           "ONETT_RECITATION_OPERATOR_KEYS": f"ops:{OPERATOR}"}
    settings = load_recitation_settings(env)
    assert settings.consumer_keys == {"acme": CONSUMER, "beta": CONSUMER + "x"}
    assert settings.index_dir == tmp_path.resolve() / "data" / "recitation-index" and settings.min_tokens == 50
    link = tmp_path / "elsewhere" / "index"
    save_index(link)  # a symlink to its generation: named, not followed (a reader would stay on one generation)
    assert load_recitation_settings(env | {"ONETT_RECITATION_INDEX_DIR": str(link)}).index_dir == link
    for bad in ({"ONETT_RECITATION_API_KEYS": "acme:short"}, {"ONETT_RECITATION_API_KEYS": CONSUMER},
                {"ONETT_RECITATION_API_KEYS": f"a:{CONSUMER},a:{OPERATOR}"},
                {"ONETT_RECITATION_OPERATOR_KEYS": f"acme:{OPERATOR}"},
                {"ONETT_RECITATION_MIN_TOKENS": "40"}, {"ONETT_RECITATION_WORKERS": "0"}):
        with pytest.raises(SettingsError):
            load_recitation_settings(env | bad)


def test_the_portal_serves_the_api(tmp_path, monkeypatch):
    from onett_portal.app import create_app

    for key in ("ONETT_PORTAL_DB", "ONETT_STORAGE_DIR", "ONETT_RECITATION_INDEX_DIR", "ONETT_RECITATION_OPERATOR_KEYS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("ONETT_RECITATION_API_KEYS", f"acme:{CONSUMER}")
    save_index(tmp_path / "data" / "recitation-index")
    client = TestClient(create_app())
    output, _ = recited()
    answer = post(client, json={"output": output})
    assert answer.status_code == 200 and answer.json()["verdict"] == "recites"
    assert answer.headers["cache-control"] == "no-store" and answer.headers["x-content-type-options"] == "nosniff"
    assert post(client, "nope-nope-nope-nope", json={"output": output}).status_code == 401


def test_repeated_junk_lists_at_most_max_spans_and_says_the_search_was_bounded(tmp_path):
    save_index(tmp_path / "index", docs={1: "iI" * 3000, 2: DOCS[2]}, sources={})
    client = client_of(RecitationService(settings_for(tmp_path)))
    body = post(client, OPERATOR, json={"output": "iI" * 3000}).json()
    assert body["verdict"] == "recites" and body["complete"] is False
    assert len(body["spans"]) == service_module.MAX_SPANS < body["span_count"]
    assert body["spans"][0]["sources"][0]["contributor_id"] is None  # no mapping saved for the text
