"""Real server processes for the tests that need them: `python server.py` or gunicorn on 127.0.0.1,
signed webhook posts over real connections, and what the kernel says about a process."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scripts.loadtest import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "process-test-secret"
PHONE_ID = "555000111"
TOKEN = "EAAG-process-token"
ADMIN = "process-admin-token"


def text_payload(frm: str, mid: str, body: str) -> dict:
    """A notification as Meta sends it, with one text message."""
    message = {"from": frm, "id": mid, "timestamp": "1", "type": "text", "text": {"body": body}}
    value = {"messaging_product": "whatsapp", "messages": [message]}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def server_env(tmp_path: Path, graph_url: str = "http://127.0.0.1:9/v21.0", **overrides) -> dict:
    """A server on SQLite under tmp_path, talking to a Graph API stand-in, logging to stderr."""
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "STORE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "WHATSAPP_API_BASE": graph_url,
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": "process-verify",
        "ADMIN_TOKEN": ADMIN,
        "OPENAI_API_KEY": "",
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "development",
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def enqueue_in_process(path: str, results) -> None:
    """A multiprocessing target: one process's attempt to take message 'wamid.same'."""
    from dialog.store.sqlite import SQLiteStore

    results.put(SQLiteStore(path).enqueue_inbound("wamid.same", "u", {"n": 1}))


class Server:
    """One server process; its stderr goes to a file the test can read."""

    def __init__(self, command: list[str], env: dict, log_path: Path):
        self.port = int(env["PORT"])
        self.log_path = log_path
        self.started_at = time.monotonic()
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> Server:
        """Until /health answers (any status: a degraded store still means it is serving)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.request("GET", "/health", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:  # fmt: skip
        """One request on a new connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def admin(self, method: str, path: str, payload: object = None) -> tuple[int, object]:
        headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        body = json.dumps(payload).encode() if payload is not None else None
        status, raw = self.request(method, path, body, headers)
        return status, json.loads(raw or b"null")

    def post_webhook(self, payload: dict | bytes) -> int:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)}
        return self.request("POST", "/webhook", body, headers)[0]

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """kill -9: no atexit, no graceful shutdown."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


class Spawner:
    """Starts servers for one test and makes sure none outlives it."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.started: list[Server] = []

    def dev(self, env: dict, port: int | None = None) -> Server:
        """`python server.py` (the development server, `make run`)."""
        return self._start([sys.executable, "server.py"], env, port)

    def gunicorn(self, env: dict, port: int | None = None) -> Server:
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                   "server:create_app()"]  # fmt: skip
        return self._start(command, env, port)

    def _start(self, command: list[str], env: dict, port: int | None) -> Server:
        env = {**env, "PORT": str(port or env.get("PORT") or free_port())}
        log_path = self.tmp_path / f"server-{len(self.started)}.log"
        server = Server(command, env, log_path)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            server.kill()
