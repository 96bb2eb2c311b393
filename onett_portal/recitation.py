"""The recitation guard's HTTP API: `POST /v1/recitation` says whether a model's output recites contributed text.

Request: `Authorization: Bearer <key>` and a JSON body `{"output": "..."}` or `{"outputs": ["...", ...]}` (at most
MAX_OUTPUTS, none empty, the body at most MAX_BODY_BYTES). Answer, per output: `{"verdict": "ok" | "recites",
"tokens": n, "complete": true, "span_count": n, "spans": [{"start", "end", "start_token", "end_token", "tokens",
"source_count"}]}` where `start` and `end` are character offsets into the output (`output[start:end]` is the recited
text) and `source_count` how many contributed texts hold the span; at most MAX_SPANS spans are listed, `span_count`
counts them all. `complete` is false when the output is repeated junk that the index holds too often to search
every place of (onett_text.recitation.MAX_HITS): the spans listed are real, others may be missing. A batch answers
`{"results": [...]}` in the order given. Operators also get each span's `sources`: text id, contributor id, the
documents holding the text (as the index's sources mapping has them) and the token at which the text holds the span
(at most onett_text.recitation.MAX_SOURCES texts, MAX_DOCUMENTS documents each; the counts are always given).
Consumers never see whose text it is.

Settings, from the environment:

- `ONETT_RECITATION_API_KEYS`: the consumers' keys, `name:key,name2:key2` (a key at least MIN_KEY_CHARS characters,
  no `,`; names unique). `ONETT_RECITATION_OPERATOR_KEYS`: the operators' keys, in the same form. Without any key,
  every request is refused.
- `ONETT_RECITATION_INDEX_DIR`: the index folder written by RecitationIndex.save (default
  `$ONETT_STORAGE_DIR/recitation-index`, the storage folder defaulting to `$DAGSTER_HOME/data`, as the platform's
  settings have it; the folder is a symlink to the current generation and is never resolved here, or a reader
  would stay on one generation). Its manifest is looked at at most once a second; a new one is loaded (memory
  mapped: milliseconds) and used from the next request on. Until an index exists the API answers 503.
- `ONETT_RECITATION_MIN_TOKENS` (default 50, at least 47): the shortest span reported.
- `ONETT_RECITATION_WORKERS` (default twice the cores): checks run at once, in threads (numpy's lookups release
  the GIL); `ONETT_RECITATION_QUEUE` (default 8): requests that may wait for one. Beyond both: 429, Retry-After 1.

Statuses: 401 for a missing or wrong key (one body for both, checked before anything else is read), 413 for a body
over the limit (by Content-Length before reading, and by the bytes that arrive), 400 for a body that is not UTF-8,
not JSON, or not of the shape above, 503 while there is no index, 429 when full.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from onett_resources.settings import SettingsError, load_settings
from onett_text.passages import vocabulary
from onett_text.recitation import DEFAULT_MIN_TOKENS, MANIFEST, RecitationIndex, Verdict, check

PATH = "/v1/recitation"
MAX_BODY_BYTES = 1 << 20
MAX_OUTPUTS = 64
MAX_DOCUMENTS = 20  # document ids listed per source text in the operator's view
MAX_SPANS = 200  # spans listed per output (repeated junk can share thousands of overlapping runs); all are counted
MIN_KEY_CHARS = 16
RELOAD_SECONDS = 1.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecitationSettings:
    index_dir: Path
    consumer_keys: dict[str, str]  # name -> key
    operator_keys: dict[str, str]
    min_tokens: int = DEFAULT_MIN_TOKENS
    workers: int = 2 * (os.cpu_count() or 1)
    queue: int = 8


def _keys(variable: str, text: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, key = item.partition(":")
        name, key = name.strip(), key.strip()
        if not sep or not name or len(key) < MIN_KEY_CHARS or name in keys:
            raise SettingsError(f"{variable} must be name:key pairs separated by commas, names unique and each key "
                                f"at least {MIN_KEY_CHARS} characters (the entry for {name or '?'!r} is not)")
        keys[name] = key
    return keys


def _whole(env: dict[str, str], variable: str, default: int, low: int) -> int:
    text = env.get(variable, str(default)).strip()
    if not text.isdigit() or int(text) < low:
        raise SettingsError(f"{variable}={text!r} must be a whole number of at least {low}")
    return int(text)


def load_recitation_settings(env: dict[str, str] | None = None) -> RecitationSettings:
    env = dict(os.environ if env is None else env)
    platform = load_settings(env)  # the index folder and the shortest span, as the assets that build and use it
    consumers = _keys("ONETT_RECITATION_API_KEYS", env.get("ONETT_RECITATION_API_KEYS", ""))
    operators = _keys("ONETT_RECITATION_OPERATOR_KEYS", env.get("ONETT_RECITATION_OPERATOR_KEYS", ""))
    if set(consumers) & set(operators):
        raise SettingsError("ONETT_RECITATION_API_KEYS and ONETT_RECITATION_OPERATOR_KEYS name the same key holder: "
                            + ", ".join(sorted(set(consumers) & set(operators))))
    return RecitationSettings(
        index_dir=platform.recitation_index_dir, consumer_keys=consumers, operator_keys=operators,
        min_tokens=platform.recitation_min_tokens,
        workers=_whole(env, "ONETT_RECITATION_WORKERS", 2 * (os.cpu_count() or 1), 1),
        queue=_whole(env, "ONETT_RECITATION_QUEUE", 8, 0),
    )


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class IndexHolder:
    """The index in use, swapped for the folder's new one when its manifest changes (looked at once a second at
    most); a folder that cannot be read keeps the index in use."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.index: RecitationIndex | None = None
        self.stamp: tuple | None = None
        self.checked = float("-inf")
        self.lock = threading.Lock()

    def due(self) -> bool:
        return time.monotonic() - self.checked >= RELOAD_SECONDS

    def refresh(self) -> RecitationIndex | None:
        if not self.lock.acquire(blocking=self.index is None):
            return self.index  # another request is loading it: go on with the index in use
        try:
            if not self.due():
                return self.index
            self.checked = time.monotonic()
            try:
                st = os.stat(self.folder / MANIFEST)
            except OSError:
                return self.index
            stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp != self.stamp:
                try:
                    index = RecitationIndex.load(self.folder)
                    vocabulary(index.encoding)  # character offsets need it: built now, not in a request
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("recitation index at %s not loaded: %s", self.folder, exc)
                    return self.index
                self.index, self.stamp = index, stamp
                log.info("recitation index loaded from %s: %d texts, %d tokens", self.folder, index.text_count,
                         index.token_count)
            return self.index
        finally:
            self.lock.release()


class RecitationService:
    def __init__(self, settings: RecitationSettings):
        self.settings = settings
        self.holder = IndexHolder(settings.index_dir)
        # every key is compared, as a digest, whichever matches: the time taken says nothing about which
        self.keys = [(_digest(k), "consumer") for k in settings.consumer_keys.values()]
        self.keys += [(_digest(k), "operator") for k in settings.operator_keys.values()]
        self.running = threading.BoundedSemaphore(settings.workers)
        self.admitted = 0
        self.admission = threading.Lock()

    # ---- the steps of a request ---------------------------------------------------------------------------
    def role(self, header: str | None) -> str | None:
        scheme, _, token = (header or "").partition(" ")
        given = _digest(token.strip() if scheme.lower() == "bearer" else "")
        role = None
        for digest, holder in self.keys:
            if hmac.compare_digest(digest, given):
                role = holder
        return role

    async def body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > MAX_BODY_BYTES):
            raise BadRequest(413 if length.strip().isdigit() else 400,
                             f"the body may hold at most {MAX_BODY_BYTES} bytes" if length.strip().isdigit()
                             else "Content-Length is not a number")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise BadRequest(413, f"the body may hold at most {MAX_BODY_BYTES} bytes")
        return bytes(body)

    @staticmethod
    def outputs(body: bytes) -> tuple[list[str], bool]:
        """The outputs to check, and whether one was sent alone (`output`) rather than as a batch."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(400, f"the body is not valid UTF-8 (byte {exc.start})") from None
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRequest(400, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                             ) from None
        if not isinstance(payload, dict) or ("output" in payload) == ("outputs" in payload):
            raise BadRequest(400, 'send a JSON object with "output" (a string) or "outputs" (a list of strings)')
        single = "output" in payload
        outputs = [payload["output"]] if single else payload["outputs"]
        if not isinstance(outputs, list) or not outputs:
            raise BadRequest(400, '"outputs" must be a non-empty list of strings')
        if len(outputs) > MAX_OUTPUTS:
            raise BadRequest(400, f'"outputs" may hold at most {MAX_OUTPUTS} outputs, not {len(outputs)}')
        for number, output in enumerate(outputs):
            where = '"output"' if single else f'"outputs"[{number}]'
            if not isinstance(output, str):
                raise BadRequest(400, f"{where} must be a string")
            if not output.strip():
                raise BadRequest(400, f"{where} is empty")
            try:
                output.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(400, f"{where} holds a lone surrogate (\\ud800-\\udfff): not text") from None
        return outputs, single

    def admit(self) -> bool:
        with self.admission:
            if self.admitted >= self.settings.workers + self.settings.queue:
                return False
            self.admitted += 1
            return True

    def leave(self) -> None:
        with self.admission:
            self.admitted -= 1

    def check_all(self, index: RecitationIndex, outputs: list[str], operator: bool) -> list[dict]:
        with self.running:
            verdicts = [check(output, index.encoding, index, self.settings.min_tokens) for output in outputs]
            return [self.describe(index, verdict, operator) for verdict in verdicts]

    @staticmethod
    def describe(index: RecitationIndex, verdict: Verdict, operator: bool) -> dict:
        spans = []
        named = index.sources_of(s.text_id for span in verdict.spans[:MAX_SPANS] for s in span.sources) \
            if operator else {}
        for span in verdict.spans[:MAX_SPANS]:
            item = {"start": span.start, "end": span.end, "start_token": span.start_token,
                    "end_token": span.end_token, "tokens": span.tokens, "source_count": span.source_count}
            if operator:
                item["sources"] = []
                for source in span.sources:
                    known = named.get(source.text_id, {})
                    documents = list(known.get("documents", []))
                    item["sources"].append({"text_id": source.text_id, "position": source.position,
                                            "contributor_id": known.get("contributor_id"),
                                            "documents": documents[:MAX_DOCUMENTS],
                                            "document_count": len(documents)})
            spans.append(item)
        return {"verdict": verdict.verdict, "tokens": verdict.tokens, "complete": verdict.complete,
                "span_count": len(verdict.spans), "spans": spans}

    # ---- the endpoint -------------------------------------------------------------------------------------
    async def recitation(self, request: Request) -> Response:
        role = self.role(request.headers.get("authorization"))
        if role is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401, headers={"www-authenticate": "Bearer"})
        try:
            outputs, single = self.outputs(await self.body(request))
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        index = self.holder.index
        if index is None or self.holder.due():
            index = await anyio.to_thread.run_sync(self.holder.refresh)
        if index is None:
            return JSONResponse({"error": "the recitation index is not built yet; try again later"}, status_code=503,
                                headers={"retry-after": "30"})
        if not self.admit():
            return JSONResponse({"error": "too many checks at once; try again in a second"}, status_code=429,
                                headers={"retry-after": "1"})
        try:
            results = await anyio.to_thread.run_sync(self.check_all, index, outputs, role == "operator")
        finally:
            self.leave()
        answer = dict(results[0]) if single else {"results": results}
        answer["min_tokens"] = self.settings.min_tokens
        return JSONResponse(answer)

    def routes(self) -> list[Route]:
        return [Route(PATH, self.recitation, methods=["POST"], name="recitation")]


def recitation_routes(settings: RecitationSettings | None = None) -> list[Route]:
    """The API's routes, for the portal's app (or any Starlette app)."""
    return RecitationService(settings or load_recitation_settings()).routes()
