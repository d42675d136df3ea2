"""Write-path speed-ups for argilla-server 2.8.0 on the embedded stack, each one off when the patched code changes.

Profiles of a bulk upsert (span suggestions + 384-d vectors) showed most server time outside SQLite and the search
engine: a fresh pydantic `TypeAdapter` built on every `parsed_settings` call (several per record), a webhook event
built per record although no webhook is configured (upstream discards it in `enqueue_notify_events`), then the
multi-row ORM upsert of suggestions and vectors (compiled anew per batch, ORM objects built from RETURNING that
the caller ignores), then the stdlib JSON of the 384-d vectors, encoded three times per record (SQLite bind, search
bulk, the bulk answer), which orjson does ~10x faster with the same values. Each patch replaces upstream functions
with ones that store and return the same data (see docs/push-performance.md), and is applied only when the
installed argilla-server is the version it was written for AND every replaced function's source still hashes to
the value recorded in PATCHES (otherwise upstream stays; tests/test_server.py fails on it). The launcher calls
`apply()` in the server and worker processes; CURATE_SERVER_PATCHES=0 turns all of it off.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Any

PATCHES_ENV = "CURATE_SERVER_PATCHES"
SERVER_VERSION = "2.8.0"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    """One speed-up: the upstream functions it replaces (each with the sha256 of its source) and its installer."""

    name: str
    targets: tuple[tuple[str, str, str], ...]  # (module, qualname, sha256 of the upstream source)
    install: Callable[[], None]


def _target(module: str, qualname: str) -> Any:
    import importlib

    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = inspect.getattr_static(obj, part)
    if isinstance(obj, property):
        obj = obj.fget
    return obj


def upstream_source_sha256(module: str, qualname: str) -> str:
    """sha256 of the upstream function's source (dedented), the fingerprint a patch is guarded by."""
    source = textwrap.dedent(inspect.getsource(_target(module, qualname)))
    return hashlib.sha256(source.encode()).hexdigest()


# 1. parsed_settings: one TypeAdapter per settings union instead of one per call ---------------------------------
def _install_cached_adapters() -> None:
    from argilla_server.models import database
    from pydantic import TypeAdapter

    question_adapter = TypeAdapter(database.QuestionSettings)
    metadata_adapter = TypeAdapter(database.MetadataPropertySettings)

    def question_parsed_settings(self: Any) -> Any:
        """Same validation as upstream, with the adapter built once per process."""
        return question_adapter.validate_python(self.settings)

    def metadata_parsed_settings(self: Any) -> Any:
        """Same validation as upstream, with the adapter built once per process."""
        return metadata_adapter.validate_python(self.settings)

    database.Question.parsed_settings = property(question_parsed_settings)
    database.MetadataProperty.parsed_settings = property(metadata_parsed_settings)


# 2. webhook events: checked once per bulk request, built only when some webhook is enabled ------------------------
async def _any_webhook_enabled(db: Any) -> bool:
    from argilla_server.contexts import webhooks

    return len(await webhooks.list_enabled_webhooks(db)) > 0


def _install_lazy_record_events() -> None:
    from argilla_server.bulk import records_bulk

    upstream_notify = records_bulk.notify_record_event_v1
    upstream_upsert_events = records_bulk.UpsertRecordsBulk._notify_upsert_record_events

    async def notify_record_event(db: Any, record_event: Any, record: Any) -> list:
        """Upstream's per-record notify, skipped (same empty job list) when no webhook is enabled."""
        if not await _any_webhook_enabled(db):
            return []
        return await upstream_notify(db, record_event, record)

    async def notify_upsert_record_events(self: Any, records: list) -> None:
        """One webhook check per bulk upsert instead of one event built per record."""
        if await _any_webhook_enabled(self._db):
            await upstream_upsert_events(self, records)

    records_bulk.notify_record_event_v1 = notify_record_event  # used by create_records_bulk
    records_bulk.UpsertRecordsBulk._notify_upsert_record_events = notify_upsert_record_events


# 3. suggestions/vectors of a bulk upsert: one cached Core executemany instead of a compiled multi-row ORM insert ----
_UPSERT_BASES: dict[tuple[str, str], tuple[Any, dict]] = {}  # (dialect, table) -> (insert, its excluded columns)


async def _core_upsert_many(db: Any, model: Any, objects: list[dict], constraints: list[Any]) -> None:
    """Upstream `upsert_many`'s INSERT .. ON CONFLICT DO UPDATE, run as a Core executemany (compiled once per process,
    no ORM objects built from RETURNING); ORM instances of `model` in the session are expired instead of refreshed."""
    from datetime import datetime

    from argilla_server.models.mixins import _INSERT_FUNC

    table = model.__table__
    key = (db.bind.dialect.name, table.name)
    if key not in _UPSERT_BASES:  # `insert.excluded` builds a new alias with new Column objects on every access
        insert = _INSERT_FUNC[db.bind.dialect.name](table)
        excluded = insert.excluded
        _UPSERT_BASES[key] = insert, {column: excluded[column] for column in model.__upsertable_columns__}
    insert, excluded_columns = _UPSERT_BASES[key]
    columns = dict(excluded_columns)
    if hasattr(model, "updated_at"):
        columns["updated_at"] = datetime.utcnow()
    statement = insert.on_conflict_do_update(index_elements=[table.c[c.key] for c in constraints], set_=columns)
    await db.execute(statement, objects)
    for instance in list(db.identity_map.values()):  # what populate_existing refreshed upstream: reloaded on next use
        if isinstance(instance, model):
            db.expire(instance)


def _install_core_upserts() -> None:
    from argilla_server.bulk import records_bulk
    from argilla_server.models import Suggestion, Vector

    async def upsert_records_suggestions(self: Any, records_and_suggestions: list) -> list:
        """Same rows as upstream (returns [] instead of the ORM objects; the only caller ignores them)."""
        rows = [dict(**suggestion.model_dump(), record_id=record.id)
                for record, suggestions in records_and_suggestions for suggestion in suggestions or []]
        if rows:
            await _core_upsert_many(self._db, Suggestion, rows, [Suggestion.record_id, Suggestion.question_id])
        return []

    async def upsert_records_vectors(self: Any, records_and_vectors: list) -> list:
        """Same rows as upstream (returns [] instead of the ORM objects; the only caller ignores them)."""
        rows = []
        for record, vectors in records_and_vectors:
            for name, value in (vectors or {}).items():
                settings = record.dataset.vector_settings_by_name(name)
                rows.append(dict(value=value, record_id=record.id, vector_settings_id=settings.id))
        if rows:
            await _core_upsert_many(self._db, Vector, rows, [Vector.record_id, Vector.vector_settings_id])
        return []

    records_bulk.CreateRecordsBulk._upsert_records_suggestions = upsert_records_suggestions
    records_bulk.CreateRecordsBulk._upsert_records_vectors = upsert_records_vectors


# 4. JSON of the push path with orjson: SQLite binds/results, the search-engine bulk, the API's JSON answers ---------
def _orjson_text(value: Any) -> str:
    """What SQLAlchemy's JSON type stores (json.dumps), from orjson; values orjson refuses go to json.dumps."""
    import json

    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: int over 64 bits, non-str keys, unknown types
        return json.dumps(value)


def _orjson_value(text: Any) -> Any:
    """json.loads from orjson: TypeError for non-text (SQLite hands back the numbers it stored as REAL, which
    SQLAlchemy's `_SQliteJson` returns as they are on TypeError), json.loads for what orjson rejects (NaN)."""
    import json

    import orjson

    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(text).__name__}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _install_orjson() -> None:
    import orjson
    from argilla_server.database import async_engine
    from elastic_transport import JsonSerializer
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    dialect = async_engine.sync_engine.dialect
    if dialect._json_serializer is not None or dialect._json_deserializer is not None:
        raise RuntimeError("argilla-server configures its own JSON serializer")  # apply() leaves upstream in place
    dialect._json_serializer = _orjson_text  # read by JSON.bind_processor, compiled after this
    dialect._json_deserializer = _orjson_value

    upstream_dumps, upstream_render = JsonSerializer.json_dumps, JSONResponse.render

    def json_dumps(self: Any, data: Any) -> bytes:
        """elastic-transport's own OrjsonSerializer.json_dumps, upstream for what orjson refuses."""
        try:
            return orjson.dumps(data, default=self.default, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:
            return upstream_dumps(self, data)

    def json_loads(self: Any, data: bytes) -> Any:
        return _orjson_value(data)

    def render(self: Any, content: Any) -> bytes:
        """Starlette's compact UTF-8 JSON, from orjson; upstream for what orjson refuses."""
        try:
            return orjson.dumps(content)
        except TypeError:
            return upstream_render(self, content)

    async def request_json(self: Any) -> Any:
        """Starlette's cached request body parse (FastAPI's JSON bodies, e.g. a bulk of 250 vectors), from orjson."""
        if not hasattr(self, "_json"):
            self._json = _orjson_value(await self.body())
        return self._json

    JsonSerializer.json_dumps, JsonSerializer.json_loads = json_dumps, json_loads
    JSONResponse.render = render
    Request.json = request_json


PATCHES: tuple[Patch, ...] = (
    Patch("cached-settings-adapters", (
        ("argilla_server.models.database", "Question.parsed_settings",
         "971c1dd6ede1ba95f9a3f8eb50676f94e5defbec6f86b2283c8aecfd3d06a196"),
        ("argilla_server.models.database", "MetadataProperty.parsed_settings",
         "6d8c55a028aaad34b05f28c4d61019e056eff46909785a24a8322e2c9f03e5ef"),
    ), _install_cached_adapters),
    Patch("record-events-only-with-webhooks", (
        ("argilla_server.bulk.records_bulk", "UpsertRecordsBulk._notify_upsert_record_events",
         "5aaa113835d88b45fdfb9691fb2e9349e491416813a9e5cd6991d022db4c0380"),
        ("argilla_server.bulk.records_bulk", "CreateRecordsBulk.create_records_bulk",
         "4d08e5dcfd77c5ca4d02cce05c8144dae58d09d3b810b5506e3d34d2539f2d44"),
        ("argilla_server.webhooks.v1.records", "notify_record_event",
         "92209f75197bb9fd306859fbadcf4465bf9c221fe197f3f78a40b3a95a1ddaa8"),
        ("argilla_server.jobs.webhook_jobs", "enqueue_notify_events",
         "fcd5b6b37c62b788eb90a50c7d92ef1ef0987d43cf0a5d2ebde048952a5da07b"),
    ), _install_lazy_record_events),
    Patch("core-upserts-of-suggestions-and-vectors", (
        ("argilla_server.bulk.records_bulk", "CreateRecordsBulk._upsert_records_suggestions",
         "7063acf96652baca281f0ae5fce4371dd04e6ba465b20f4d1efe533fd908a112"),
        ("argilla_server.bulk.records_bulk", "CreateRecordsBulk._upsert_records_vectors",
         "2da5e18e94fbebf1d0973825a0108dffedbcaba12e014d3c5ca45fbc900fd7f4"),
        ("argilla_server.bulk.records_bulk", "CreateRecordsBulk._upsert_records_relationships",
         "1743fb3a13cae5aa99bc648cc4ab71210216571ace2f6e67857d469e7340a538"),
        ("argilla_server.models.mixins", "CRUDMixin.upsert_many",
         "c8cf6ba66856d72d421f95e38fb8e8fdbedb14f3ef3fefe3a901809c5a318b28"),
    ), _install_core_upserts),
    Patch("orjson-on-the-push-path", (
        ("sqlalchemy.sql.sqltypes", "JSON.bind_processor",
         "373d6fd96ff4801f97b6f5a8c1d6fd61bd9438acec9b000a6be1d1158ac0ae0a"),
        ("sqlalchemy.sql.sqltypes", "JSON.result_processor",
         "f3554ba48c818d23296576c15e66c2b15c04d96884dba2f0cb392b0fa3ddaca5"),
        ("sqlalchemy.dialects.sqlite.base", "_SQliteJson.result_processor",
         "c6a4f78f1cc1bb9806ac6cdd834e5f35fe8f48bd14a2cc354e8ee98a6ac40804"),
        ("argilla_server.settings", "Settings.database_engine_args",
         "d778e1266dc8458ca50ae52837343350cd17dd5203cf6e3d3217efc72722bdd9"),
        ("elastic_transport._serializer", "JsonSerializer.json_dumps",
         "7842e03363b87bdea923cc266120a9eb56514fd9a04a5a83a195316ebd90a3bd"),
        ("elastic_transport._serializer", "JsonSerializer.json_loads",
         "11207489d5cb0ad874fdc3b958e3fe2f5976932aeb1bb56ecaad89d7e4ec8077"),
        ("starlette.requests", "Request.json",
         "7678d18c2c30387eda15b4dcb87ad4041efaa21e1367ab6232fbb3e5d03a1511"),
        ("starlette.responses", "JSONResponse.render",
         "6d8c7082de635e1d6e2897afb9915de6e5038451f571d7c7734186a40c299a0e"),
    ), _install_orjson),
)

_applied: list[str] = []


def enabled() -> bool:
    """False when CURATE_SERVER_PATCHES=0 (the benchmark's unpatched stack)."""
    return os.environ.get(PATCHES_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def mismatches() -> list[str]:
    """Names of patches whose upstream functions changed (or another version is installed): those stay unpatched."""
    if package_version("argilla-server") != SERVER_VERSION:
        return [p.name for p in PATCHES]
    return [p.name for p in PATCHES
            if any(upstream_source_sha256(module, qualname) != sha for module, qualname, sha in p.targets)]


def apply() -> list[str]:
    """Install every patch whose upstream still matches (before any is installed); idempotent; names applied."""
    if _applied or not enabled():
        return list(_applied)
    stale = set(mismatches())
    for patch in PATCHES:
        if patch.name in stale:
            log.warning("argilla-server changed %s: the %s speed-up is not applied",
                        ", ".join(q for _, q, _ in patch.targets), patch.name)
            continue
        try:
            patch.install()
        except RuntimeError as err:  # a precondition the hashes cannot see (e.g. a configured serializer)
            log.warning("the %s speed-up is not applied: %s", patch.name, err)
            continue
        _applied.append(patch.name)
    return list(_applied)
