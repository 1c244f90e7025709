"""A real ``vending run`` process on a free port, for tests that need one."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVING = re.compile(rb"serving on https?://[^ ]*:(\d+) ")


def served_port(log_path: Path, offset: int = 0) -> int | None:
    """The port a ``vending run`` logged at ``log_path`` (after byte ``offset``) serves on,
    or None while it has not said so yet."""
    if not log_path.exists():
        return None
    with open(log_path, "rb") as f:
        f.seek(offset)
        found = SERVING.search(f.read())
    return int(found.group(1)) if found else None


class Server:
    """``vending run`` in a subprocess.  With ``port`` 0 (the default) the process binds
    a port the kernel picks and the log line "serving on ...:PORT" says which: no port is
    picked ahead of time, so parallel tests never race for one.  A restart may get
    another port; ``port`` follows it."""

    def __init__(self, db: Path, port: int = 0, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.db, self.port, self.asked_port = db, port, port
        self.env, self.args = env, args
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    @property
    def log_path(self) -> Path:
        return self.db.parent / "server.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "controller.cli", "run", "--db", str(self.db),
                "--port", str(self.asked_port), *self.args]

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process; ``wait_ready`` waits until it serves."""
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=log,
            env=None if self.env is None else {**os.environ, **self.env})

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._bound_port(self._offset) and self._serving():
                return
            time.sleep(0.05)
        raise AssertionError("server did not start: " + self.log_path.read_text()[-3000:])

    def _serving(self) -> bool:
        try:
            return self.call("GET", "/health")["state"] in ("idle", "credit", "out_of_service",
                                                             "service")
        except (OSError, urllib.error.URLError):
            return False

    def _bound_port(self, offset: int) -> bool:
        """True once the log since ``offset`` names the port served on (``port`` is set)."""
        found = served_port(self.log_path, offset)
        if found is not None:
            self.port = found
        return found is not None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            ctype = resp.headers.get("Content-Type", "")
            return json.loads(raw) if "json" in ctype else raw.decode()


def cli(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller.cli", *args, "--db", str(db)],
                          input=stdin, capture_output=True, text=True, timeout=60, check=False)


def login(server: Server, name: str, password: str) -> str:
    return str(server.call("POST", "/login", {"username": name, "password": password})
               ["accessToken"])
