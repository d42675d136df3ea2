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
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

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
        """Upstream's bulk request, without the per-request refresh when coalescing is on."""
        if not REFRESH.enabled:
            return await super()._bulk_op_request(actions)
        _, errors = await helpers.async_bulk(client=self.client, actions=actions, raise_on_error=False,
                                             refresh=False)
        for error in errors:
            self._LOGGER.error(f"Error in bulk operation: {error}")
        REFRESH.mark({action["_index"] for action in actions}, type(self))

    async def _index_search_request(self, index: str, *args: Any, **kwargs: Any) -> dict:
        await REFRESH.refresh(self.client, index)
        return await super()._index_search_request(index, *args, **kwargs)

    async def _request_similarity_search(self, index: str, *args: Any, **kwargs: Any) -> dict:
        await REFRESH.refresh(self.client, index)
        return await super()._request_similarity_search(index, *args, **kwargs)

    async def _update_document_request(self, index_name: str, id: str, body: dict) -> None:
        """Upstream's update (refresh=true refreshes the whole index, so it is clean afterwards)."""
        stamp = REFRESH.dirty.get(index_name)
        await super()._update_document_request(index_name, id, body)
        if stamp is not None and REFRESH.dirty.get(index_name) == stamp:  # no write landed meanwhile
            REFRESH.forget(index_name)

    async def _delete_index_request(self, index_name: str) -> None:
        REFRESH.forget(index_name)
        await super()._delete_index_request(index_name)

    async def info(self) -> dict:
        """A plain dict (upstream returns the client's ObjectApiResponse, which /api/v1/status cannot serialize)."""
        return dict((await self.client.info()).body)
