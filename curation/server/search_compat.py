"""Search-engine shim for the embedded stack: argilla-server's Elasticsearch engine, corrected for noida-db.

noida-db (the PyPI Elasticsearch emulator) ignores `include_in_root` on the nested `responses` mapping, so the
root-level queries and aggregations upstream runs on `responses.*` see nothing. The two places that rely on them
(the "pending" response-status filter and per-user progress) are rewritten here as nested queries, which give the
same answer on real Elasticsearch. Registered through argilla-server's own registry as ENGINE_NAME; the launcher
imports this module in the server and worker processes.

Refresh coalescing (server process only, `REFRESH.enabled`): upstream sends every bulk write with `refresh=true`, and
a noida-db refresh rebuilds the whole index (measured 43 ms at 250 documents, 135-175 ms at 10k, ~170 ms at 20k, even
when nothing changed), so a push costs O(n^2). Here bulk writes go without refresh and mark the index dirty; the
next search, similarity search, aggregation or document update of that index refreshes it first (read-your-writes
through this server, as upstream), and an index left dirty is refreshed after `idle_s` without writes, so other
processes see the documents within seconds too. Updates/gets are real-time in noida-db, and unrefreshed documents
are persisted with the rest (checked: they survive a restart).

Write buffering (server process only, `BUFFER.enabled`): noida-db keeps every index in one JSON file that it
rewrites while any write is pending, and it answers nothing during a rewrite (1.6-2 s stalls of a health check at
~23k records, several seconds at 50k), so a push that sends a bulk every 250 records waits on ever longer rewrites
(docs/push-performance.md). Here the bulk actions of the API server are serialized into a per-index buffer and sent
to noida-db in large bulks (`flush_docs` per request): when the index has had no write for `idle_s`, when the
buffer passes `max_bytes` (in the background: the push goes on; a write that finds twice that buffered waits for
the flush, so memory stays bounded when the store falls behind), and before anything else touches that index
(search, similarity, aggregation, document update, mapping, delete), so reads through this server see their own
writes as upstream. The SQL database stays the record of truth: the indices with buffered (or just flushed and not
yet persisted) writes are listed in `<ARGILLA_HOME_PATH>/search-unflushed.json`, and `recover()` (run by the
launcher before the server starts) rebuilds those indices from the database, so a killed server loses no search
data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from argilla_server.enums import ResponseStatusFilter
from argilla_server.models import Dataset, User
from argilla_server.search_engine import SearchEngine, TermsFilter
from argilla_server.search_engine.commons import (
    es_bool_query,
    es_field_for_response_property,
    es_index_name_for_dataset,
    es_nested_query,
    es_term_query,
)
from argilla_server.search_engine.elasticsearch import ElasticSearchEngine
from elasticsearch8 import helpers
from elasticsearch8.helpers.actions import expand_action

from curation.server.constants import ENGINE_NAME

REQUEST_TIMEOUT_S = 120.0  # seconds per search-engine request (elasticsearch8 default: 10)
logging.getLogger("elasticsearch").setLevel(logging.ERROR)
logging.getLogger("elastic_transport").setLevel(logging.ERROR)


class RefreshCoalescer:
    """Process-wide set of indices written without refresh: refreshed before the next read, or after `idle_s`."""

    def __init__(self, idle_s: float = 2.0) -> None:
        self.enabled = False
        self.idle_s = idle_s
        self.dirty: dict[str, float] = {}  # index -> monotonic time of its last unrefreshed write
        self.seen: set[str] = set()  # indices refreshed at least once by this process
        self._running: dict[str, asyncio.Future] = {}  # index -> refresh in flight (readers wait for it)
        self.refreshes = 0
        self._task: asyncio.Task | None = None

    def mark(self, indices: set[str], engine_class: type) -> None:
        """Note unrefreshed writes and make sure the idle refresher runs."""
        now = time.monotonic()
        for index in indices:
            self.dirty[index] = now
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._idle_refresher(engine_class))

    def forget(self, index: str) -> None:
        self.dirty.pop(index, None)

    async def refresh(self, client: Any, index: str) -> None:
        """Refresh `index` if it has unrefreshed writes, or on its first read by this process (a server killed
        before its idle refresh leaves documents unrefreshed in a noida-db that kept running); a read arriving
        while another request refreshes the index waits for that refresh."""
        if not self.enabled:
            return
        stamp = self.dirty.pop(index, None)
        if stamp is None and index in self.seen:
            running = self._running.get(index)
            if running is not None:
                await asyncio.shield(running)
            return
        done = asyncio.get_running_loop().create_future()
        self._running[index] = done
        try:
            await client.indices.refresh(index=index)
            self.refreshes += 1
            self.seen.add(index)
        except Exception:
            if stamp is not None:
                self.dirty.setdefault(index, stamp)
            raise
        finally:
            done.set_result(None)
            if self._running.get(index) is done:
                del self._running[index]

    async def _idle_refresher(self, engine_class: type) -> None:
        """Refresh indices with no write for `idle_s`; ends when nothing is dirty."""
        while self.dirty:
            await asyncio.sleep(self.idle_s / 2)
            quiet = [ix for ix, at in list(self.dirty.items()) if time.monotonic() - at >= self.idle_s]
            if not quiet:
                continue
            engine = await engine_class.new_instance()
            try:
                for index in quiet:
                    try:
                        await self.refresh(engine.client, index)
                    except Exception as err:  # noqa: BLE001 - retried on the next round or the next read
                        logging.getLogger(__name__).warning("refresh of %s failed: %s", index, err)
            finally:
                await engine.close()


REFRESH = RefreshCoalescer()
UNFLUSHED_FILE = "search-unflushed.json"  # in ARGILLA_HOME_PATH: indices that recover() rebuilds from SQL
FLUSH_IDLE_ENV = "CURATE_SEARCH_FLUSH_IDLE_S"  # seconds without writes before a buffered index is flushed (2)


class WriteBuffer:
    """Serialized bulk actions per index, sent to the search store in large bulks (see the module docstring)."""

    def __init__(self, idle_s: float | None = None, max_bytes: int = 32 * 2**20, flush_docs: int = 2000) -> None:
        self.enabled = False
        self.idle_s = float(os.environ.get(FLUSH_IDLE_ENV, 2.0)) if idle_s is None else idle_s
        self.max_bytes, self.flush_docs = max_bytes, flush_docs
        self.pending: dict[str, list[tuple[bytes, bytes | None]]] = {}  # index -> (action line, source line)
        self.size: dict[str, int] = {}  # index -> bytes buffered
        self.last_write: dict[str, float] = {}  # index -> monotonic time of its last buffered action
        self.flushed_at: dict[str, float] = {}  # index -> wall time of its last flush (persisted yet?)
        self.listed: set[str] = set()  # indices in the unflushed file
        self.flushes = 0
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self._idle: asyncio.Task | None = None

    @staticmethod
    def home() -> Path | None:
        home = os.environ.get("ARGILLA_HOME_PATH")
        return Path(home) if home else None

    @classmethod
    def unflushed_path(cls) -> Path | None:
        """The unflushed-indices file (None without ARGILLA_HOME_PATH)."""
        home = cls.home()
        return home / UNFLUSHED_FILE if home else None

    def _save_listed(self) -> None:
        """Write the unflushed-indices file atomically (read by recover() at the next start)."""
        path = self.unflushed_path()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(UNFLUSHED_FILE + ".tmp")
        tmp.write_text(json.dumps(sorted(self.listed)))
        os.replace(tmp, path)

    def add(self, actions: list[dict[str, Any]], serializers: Any, engine_class: type) -> None:
        """Buffer upstream's bulk actions (expanded as helpers.async_bulk does, serialized by the client's own
        serializer); start a background flush when the index's buffer is full."""
        now = time.monotonic()
        for action in actions:
            header, body = expand_action(action)
            index = next(iter(header.values()))["_index"]
            line = serializers.dumps(header, mimetype="application/json")
            source = None if body is None else serializers.dumps(body, mimetype="application/json")
            self.pending.setdefault(index, []).append((line, source))
            size = len(line) + len(source or b"")
            self.size[index] = self.size.get(index, 0) + size
            self.last_write[index] = now
            if index not in self.listed:
                self.listed.add(index)
                self._save_listed()
        for index, size in list(self.size.items()):
            if size >= self.max_bytes and not self._locks.get(index, asyncio.Lock()).locked():
                task = asyncio.get_running_loop().create_task(self._flush_with_new_client(index, engine_class))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._idle is None or self._idle.done():
            self._idle = asyncio.get_running_loop().create_task(self._idle_flusher(engine_class))

    async def flush(self, client: Any, index: str) -> None:
        """Send the index's buffered actions (in order, `flush_docs` per request) and wait for any flush of it in
        flight; the index is then marked for refresh. On failure the unsent actions go back to the buffer front."""
        lock = self._locks.setdefault(index, asyncio.Lock())
        async with lock:
            actions = self.pending.pop(index, None)
            self.size.pop(index, None)
            if not actions:
                return
            sent = 0
            try:
                while sent < len(actions):
                    chunk = actions[sent:sent + self.flush_docs]
                    operations = [line for action in chunk for line in action if line is not None]
                    answer = await client.bulk(operations=operations, refresh=False)
                    sent += len(chunk)
                    if answer.get("errors"):
                        for item in answer["items"]:
                            if next(iter(item.values())).get("error"):
                                logging.getLogger(__name__).error("Error in bulk operation: %s", item)
            except BaseException:
                rest = actions[sent:]
                self.pending[index] = rest + self.pending.get(index, [])
                self.size[index] = self.size.get(index, 0) + sum(len(a) + len(b or b"") for a, b in rest)
                raise
            self.flushes += 1
            self.flushed_at[index] = time.time()
            del actions
            _release_freed_memory()
        REFRESH.mark({index}, CompatElasticSearchEngine)

    async def _flush_with_new_client(self, index: str, engine_class: type) -> None:
        engine = await engine_class.new_instance()
        try:
            await self.flush(engine.client, index)
        except Exception as err:  # noqa: BLE001 - kept in the buffer; retried on idle or the next read
            logging.getLogger(__name__).warning("flush of %s failed: %s", index, err)
        finally:
            await engine.close()

    def forget(self, index: str) -> None:
        """Drop what is buffered for a deleted index."""
        for store in (self.pending, self.size, self.last_write, self.flushed_at):
            store.pop(index, None)
        if index in self.listed:
            self.listed.discard(index)
            self._save_listed()

    def _persisted(self, index: str) -> bool:
        """True once noida-db has rewritten its store file after the index's last flush (it persists within ~1 s
        of a write; without that file, i.e. not noida-db, a flush is durable when answered)."""
        home = self.home()
        store = home.parent / "search" / "elasticsearch.json" if home else None
        if store is None or not store.exists():
            return True
        return store.stat().st_mtime > self.flushed_at.get(index, 0.0) + 0.5

    async def _idle_flusher(self, engine_class: type) -> None:
        """Flush indices with no write for `idle_s`, and unlist those whose flush noida-db has persisted."""
        while self.pending or self.listed:
            await asyncio.sleep(self.idle_s / 2)
            quiet = [ix for ix in list(self.pending)
                     if time.monotonic() - self.last_write.get(ix, 0.0) >= self.idle_s]
            for index in quiet:
                await self._flush_with_new_client(index, engine_class)
            done = {ix for ix in self.listed if ix not in self.pending
                    and not self._locks.get(ix, asyncio.Lock()).locked() and self._persisted(ix)}
            if done:
                self.listed -= done
                self._save_listed()


def _release_freed_memory() -> None:
    """Hand the freed buffer back to the OS (glibc keeps freed ~10 KB blocks in the heap: RSS stayed at its peak)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


BUFFER = WriteBuffer()
# The upstream code the write buffer relies on (what writes go through _bulk_op_request, which requests touch an
# index, how a dataset update reaches the worker, how recover() reindexes), with the sha256 of its source: when one
# changes, buffering stays off (`buffering_mismatches`, checked by the launcher and by tests/test_server.py).
BUFFER_UPSTREAM: tuple[tuple[str, str, str], ...] = (
    ("argilla_server.search_engine.commons", "BaseElasticAndOpenSearchEngine.index_records",
     "8e23a7a851682c7ec4dd3e9f4bdbb3070091d51820097b17b0525968a1ba89a6"),
    ("argilla_server.search_engine.commons", "BaseElasticAndOpenSearchEngine.delete_records",
     "ddc6b8c8e3197d56840831524720c997e8e68680aa5d38fd9a1d2f6e080b1e6f"),
    ("argilla_server.search_engine.elasticsearch", "ElasticSearchEngine._bulk_op_request",
     "9f00ec3dc9b7bf9961a75dd4f7a2595a2ceec23d23d84688d2def46f3832f4a9"),
    ("argilla_server.search_engine.elasticsearch", "ElasticSearchEngine._update_document_request",
     "f3b16187e3743202ebcef1b789e45e22c48440cbbb13ac2758ae42becd2a210a"),
    ("argilla_server.search_engine.elasticsearch", "ElasticSearchEngine.put_index_mapping_request",
     "1233b81884421a9a569ee4cae0984b0ab7044e44ef8844fe163d0cdcd9de0b6e"),
    ("argilla_server.search_engine.elasticsearch", "ElasticSearchEngine._index_search_request",
     "892c1fd693bf46f922e4bbb179d763b322ae378c850de27d8f4787593943e96c"),
    ("argilla_server.search_engine.elasticsearch", "ElasticSearchEngine._request_similarity_search",
     "03e52edafca973884a35548e158dfe5fe98d916d108def2895d3e222b83a408e"),
    ("argilla_server.search_engine.elasticsearch", "ElasticSearchEngine._delete_index_request",
     "1a574c341010501b405f72063406e87136214bc046a38b1114732adb34130c4f"),
    ("argilla_server.contexts.datasets", "update_dataset",
     "f36dc04b6f0f363d535ce96575c8636e92a2ec12c302738775acf9b238b204c5"),
    ("argilla_server.cli.search_engine.reindex", "Reindexer.reindex_dataset_records",
     "4ed2d42f1c4fcf5a80a22caf77e9b809808006f9bd7dc30592a3ebcff9538d9f"),
)


def buffering_mismatches() -> list[str]:
    """Upstream functions the write buffer relies on whose source changed (empty: buffering is safe to turn on)."""
    from importlib.metadata import version

    from curation.server.perf_compat import SERVER_VERSION, upstream_source_sha256

    if version("argilla-server") != SERVER_VERSION:
        return [f"argilla-server {version('argilla-server')} (written for {SERVER_VERSION})"]
    return [f"{module}.{qualname}" for module, qualname, sha in BUFFER_UPSTREAM
            if upstream_source_sha256(module, qualname) != sha]


def unflushed_indices() -> list[str]:
    """Indices a previous server left with writes that may not have reached the search store."""
    path = WriteBuffer.unflushed_path()
    if path is None or not path.exists():
        return []
    try:
        return [str(ix) for ix in json.loads(path.read_text())]
    except (OSError, ValueError):
        return []


async def recover() -> list[str]:
    """Rebuild, from the SQL database, every index listed as unflushed (upstream's reindex of one dataset, its
    writes buffered and flushed at the end); returns the indices rebuilt. Called before the server starts."""
    from argilla_server.cli.search_engine.reindex import Reindexer
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.search_engine import get_search_engine
    from sqlalchemy.exc import NoResultFound

    rebuilt = []
    indices = unflushed_indices()
    if not indices:
        return rebuilt
    async with AsyncSessionLocal() as db:
        async for engine in get_search_engine():
            for index in indices:
                try:
                    dataset = await Reindexer.reindex_dataset(db, engine, UUID(index.removeprefix("rg.")))
                except (NoResultFound, ValueError):
                    continue  # the dataset was deleted: nothing to rebuild
                async for _ in Reindexer.reindex_dataset_records(db, engine, dataset):
                    pass
                await BUFFER.flush(engine.client, index)
                await engine.client.indices.refresh(index=index)
                REFRESH.forget(index)
                rebuilt.append(index)
    path = WriteBuffer.unflushed_path()
    if path is not None:
        path.unlink(missing_ok=True)
    return rebuilt


def flush_before_dataset_jobs() -> None:
    """In the API server: flush a dataset's buffered writes before `update_dataset` enqueues the worker's job that
    rewrites every record's status in the index (the worker cannot see this process's buffer; a flush after its
    update would put back the older status)."""
    from argilla_server.contexts import datasets

    upstream = datasets.update_dataset
    if getattr(upstream, "_flushes_first", False):
        return

    async def update_dataset(db: Any, dataset: Any, dataset_attrs: dict) -> Any:
        await BUFFER._flush_with_new_client(es_index_name_for_dataset(dataset), CompatElasticSearchEngine)
        return await upstream(db, dataset, dataset_attrs)

    update_dataset._flushes_first = True  # type: ignore[attr-defined]
    datasets.update_dataset = update_dataset


def reset() -> None:
    """Fresh buffer and refresh state (their asyncio objects belong to one event loop: recover() runs in its own)."""
    global BUFFER, REFRESH
    enabled = BUFFER.enabled, REFRESH.enabled
    BUFFER, REFRESH = WriteBuffer(), RefreshCoalescer()
    BUFFER.enabled, REFRESH.enabled = enabled


def _responses_of_user(user_id: str) -> dict:
    return es_nested_query(path="responses", query=es_term_query(es_field_for_response_property("user_id"), user_id))


@SearchEngine.register(engine_name=ENGINE_NAME)
@dataclasses.dataclass
class CompatElasticSearchEngine(ElasticSearchEngine):
    """ElasticSearchEngine whose response-status queries never depend on `include_in_root`."""

    def __post_init__(self) -> None:
        """Upstream's client with a longer request timeout: noida-db rewrites its whole store file every few bulks,
        and a bulk that meets that rewrite waited over the client's 10 s default on a loaded machine at ~22k
        records (HTTP 500 ConnectionTimeout in the push; docs/push-performance.md)."""
        self.config = {"request_timeout": REQUEST_TIMEOUT_S, **self.config}
        super().__post_init__()

    def _response_status_filter_to_es_filter(self, filter: TermsFilter) -> dict:
        """'pending' = no response (of the scoped user) via a nested must_not; other statuses as upstream."""
        if ResponseStatusFilter.pending not in filter.values:
            return super()._response_status_filter_to_es_filter(filter)
        if filter.scope.user:
            pending = es_bool_query(must_not=_responses_of_user(str(filter.scope.user.id)))
        else:
            pending = es_bool_query(must_not=es_nested_query(path="responses", query={"match_all": {}}))
        others = [value for value in filter.values if value != ResponseStatusFilter.pending]
        if not others:
            return pending
        rest = TermsFilter(scope=filter.scope, values=others)
        return es_bool_query(should=[pending, super()._response_status_filter_to_es_filter(rest)],
                             minimum_should_match=1)

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        """Counts of the user's responses by status, from a nested aggregation."""
        if dataset.is_draft:
            return {}
        status_field = es_field_for_response_property("status")
        aggregations = {"responses": {
            "nested": {"path": "responses"},
            "aggs": {"of_user": {
                "filter": es_term_query(es_field_for_response_property("user_id"), str(user.id)),
                "aggs": {"by_status": {"terms": {"field": status_field, "size": 10}}},
            }},
        }}
        result = await self._index_search_request(es_index_name_for_dataset(dataset), query={"match_all": {}},
                                                  size=0, aggregations=aggregations)
        of_user = result["aggregations"]["responses"]["of_user"]
        counts: dict[str, Any] = {b["key"]: b["doc_count"] for b in of_user["by_status"]["buckets"]}
        return {"total": of_user["doc_count"], **counts}

    # refresh coalescing --------------------------------------------------------------------------------------------
    async def _bulk_op_request(self, actions: list[dict[str, Any]]) -> None:
        """Into the write buffer when buffering is on; else upstream's bulk request, without the per-request
        refresh when coalescing is on."""
        if BUFFER.enabled:
            BUFFER.add(actions, self.client.transport.serializers, type(self))
            for index in {action["_index"] for action in actions}:  # back-pressure: the store fell behind
                if BUFFER.size.get(index, 0) >= 2 * BUFFER.max_bytes:
                    await BUFFER.flush(self.client, index)
            return None
        if not REFRESH.enabled:
            return await super()._bulk_op_request(actions)
        _, errors = await helpers.async_bulk(client=self.client, actions=actions, raise_on_error=False,
                                             refresh=False)
        for error in errors:
            self._LOGGER.error(f"Error in bulk operation: {error}")
        REFRESH.mark({action["_index"] for action in actions}, type(self))

    async def _index_search_request(self, index: str, *args: Any, **kwargs: Any) -> dict:
        await BUFFER.flush(self.client, index)
        await REFRESH.refresh(self.client, index)
        return await super()._index_search_request(index, *args, **kwargs)

    async def _request_similarity_search(self, index: str, *args: Any, **kwargs: Any) -> dict:
        await BUFFER.flush(self.client, index)
        await REFRESH.refresh(self.client, index)
        return await super()._request_similarity_search(index, *args, **kwargs)

    async def _update_document_request(self, index_name: str, id: str, body: dict) -> None:
        """Upstream's update after the index's buffered writes (refresh=true refreshes the whole index, so it is
        clean afterwards)."""
        await BUFFER.flush(self.client, index_name)
        stamp = REFRESH.dirty.get(index_name)
        await super()._update_document_request(index_name, id, body)
        if stamp is not None and REFRESH.dirty.get(index_name) == stamp:  # no write landed meanwhile
            REFRESH.forget(index_name)

    async def put_index_mapping_request(self, index: str, mappings: dict) -> None:
        await BUFFER.flush(self.client, index)
        await super().put_index_mapping_request(index, mappings)

    async def _delete_index_request(self, index_name: str) -> None:
        BUFFER.forget(index_name)
        REFRESH.forget(index_name)
        await super()._delete_index_request(index_name)

    async def info(self) -> dict:
        """A plain dict (upstream returns the client's ObjectApiResponse, which /api/v1/status cannot serialize)."""
        return dict((await self.client.info()).body)
