"""Search-engine shim for the embedded stack: argilla-server's Elasticsearch engine, corrected for noida-db.

noida-db (the PyPI Elasticsearch emulator) ignores `include_in_root` on the nested `responses` mapping, so the
root-level queries and aggregations upstream runs on `responses.*` see nothing. The two places that rely on them
(the "pending" response-status filter and per-user progress) are rewritten here as nested queries, which give the
same answer on real Elasticsearch. Registered through argilla-server's own registry as ENGINE_NAME; the launcher
imports this module in the server and worker processes.
"""

from __future__ import annotations

import dataclasses
import logging
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

from .constants import ENGINE_NAME

logging.getLogger("elasticsearch").setLevel(logging.ERROR)
logging.getLogger("elastic_transport").setLevel(logging.ERROR)


def _responses_of_user(user_id: str) -> dict:
    return es_nested_query(path="responses", query=es_term_query(es_field_for_response_property("user_id"), user_id))


@SearchEngine.register(engine_name=ENGINE_NAME)
@dataclasses.dataclass
class CompatElasticSearchEngine(ElasticSearchEngine):
    """ElasticSearchEngine whose response-status queries never depend on `include_in_root`."""

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

    async def info(self) -> dict:
        """A plain dict (upstream returns the client's ObjectApiResponse, which /api/v1/status cannot serialize)."""
        return dict((await self.client.info()).body)
