"""One catalogue per kind of plug-in; stages resolve plug-ins by (versioned) name, never by if-chains."""

from __future__ import annotations

from typing import Any

import catalogue

from curation.core.errors import InputError

sources = catalogue.create("curation", "sources")          # ingest readers by file kind
judges = catalogue.create("curation", "judges")            # refusal judges
proposers = catalogue.create("curation", "proposers")      # trigger-span proposers
scorers = catalogue.create("curation", "scorers")          # boundary scorers
embedders = catalogue.create("curation", "embedders")      # text-embedding backends
builders = catalogue.create("curation", "builders")        # DatasetDict build configs
adjudicators = catalogue.create("curation", "adjudicators")  # adjudication rules


def resolve(registry: catalogue.Registry, name: str, kind: str) -> Any:
    """Get a registered plug-in or raise an InputError that lists the known names."""
    try:
        return registry.get(name)
    except catalogue.RegistryError:
        known = ", ".join(sorted(registry.get_all())) or "none"
        raise InputError(f"unknown {kind} '{name}'", f"known {kind}s: {known}") from None
