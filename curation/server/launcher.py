"""`python -m curation.server.launcher start|worker|init|...`: argilla-server's own CLI with the compat engine.

Importing `search_compat` registers the noida-db-safe search engine in this process (and in rq's forked worker
children) before argilla-server reads ARGILLA_SEARCH_ENGINE; `perf_compat.apply()` installs the write-path
speed-ups, and `start` (the API server, the one process that serves reads) turns on refresh coalescing and write
buffering, after rebuilding from the database any index a previous server left with unflushed writes
(`search_compat.recover`); the speed-ups are off with CURATE_SERVER_PATCHES=0, the rebuild is not. `init`
migrates the database and creates the owner from CURATE_OWNER_PASSWORD / CURATE_OWNER_API_KEY (kept out of the
process list) in one interpreter start.
"""

from __future__ import annotations

import asyncio
import os
import sys

from curation.server.constants import OWNER_API_KEY_ENV, OWNER_PASSWORD_ENV


def init() -> None:
    """Migrate the database to head and create the owner `argilla` (no-op when it already exists)."""
    from argilla_server.cli.database.migrate import migrate_db
    from argilla_server.cli.database.users.create_default import _create_default

    password, api_key = os.environ.get(OWNER_PASSWORD_ENV), os.environ.get(OWNER_API_KEY_ENV)
    if not password or not api_key:
        sys.exit(f"init needs {OWNER_PASSWORD_ENV} and {OWNER_API_KEY_ENV} in the environment")
    migrate_db(revision="head")
    asyncio.run(_create_default(api_key=api_key, password=password, quiet=True))
    print("database migrated; owner ready")


def main() -> None:
    """Register the compat search engine, then hand the command line to argilla-server's typer app."""
    from argilla_server.cli import app

    from curation.server import perf_compat, search_compat

    serving = sys.argv[1:2] == ["start"]
    if perf_compat.enabled():
        applied = perf_compat.apply()
        search_compat.REFRESH.enabled = serving
        stale = search_compat.buffering_mismatches() if serving else []
        if stale:
            print(f"write buffering off: upstream changed ({', '.join(stale)})", flush=True)
        search_compat.BUFFER.enabled = serving and not stale
        if search_compat.BUFFER.enabled:
            search_compat.flush_before_dataset_jobs()
        print(f"perf_compat applied: {', '.join(applied) or 'none'}; refresh coalescing "
              f"{'on' if search_compat.REFRESH.enabled else 'off'}; write buffering "
              f"{'on' if search_compat.BUFFER.enabled else 'off'}", flush=True)
    if serving and search_compat.unflushed_indices():
        try:
            rebuilt = asyncio.run(search_compat.recover())
        except Exception as err:  # noqa: BLE001 - the server must not serve an index missing writes
            sys.exit(f"rebuilding the search indices with unflushed writes failed ({err}); the list stays in "
                     f"{search_compat.UNFLUSHED_FILE} for the next start (or run `curate server reindex`)")
        search_compat.reset()
        print(f"search indices rebuilt from the database (unflushed writes of a stopped server): "
              f"{', '.join(rebuilt) or 'none'}", flush=True)
    if sys.argv[1:2] == ["init"]:
        init()
        return
    app()


if __name__ == "__main__":
    main()
