"""A real ``vending run`` process on a free port, for tests that need one."""

from __future__ import annotations

import json
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


class Server:
    def __init__(self, db: Path, port: int, *, args: tuple[str, ...] = ()) -> None:
        self.db, self.port, self.args = db, port, args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.db.parent / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "run", "--db", str(self.db),
             "--port", str(self.port), *self.args], stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.call("GET", "/health")["state"] in ("idle", "credit", "out_of_service"):
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise AssertionError("server did not start: " +
                             (self.db.parent / "server.log").read_text()[-2000:])

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
