"""Processes to break on purpose: a Redis server and Celery workers of one's own, for fault tests and the soak.

Nothing here runs in production. The fault tests (tests/test_faults.py) and `manage.py soak_letters`
start a Redis on a port of their own (with AOF, as production runs it), workers on it and on the
current database, and stop, kill and restart them. They never touch a shared Redis or PostgreSQL.
"""

import contextlib
import email
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from django.db import connection
from kombu import pools as kombu_pools

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, seconds: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def free_port(start: int = 6390) -> int:
    """The first port from `start` nothing listens on (for a Redis of our own)."""
    for port in range(start, start + 200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"No free port from {start}.")


class RedisServer:
    """A redis-server of our own on 127.0.0.1:`port`, appending every write (AOF), as production should."""

    def __init__(self, *, port: int, folder: Path):
        self.port, self.folder = port, folder
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(  # noqa: S603  our own binary and arguments
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_for(self.answers, 10):
            raise RuntimeError(f"redis-server did not start on port {self.port}.")

    def stop(self) -> None:
        """Stop it as an outage would: at once (SIGKILL), whatever it was doing; AOF keeps what it had."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def worker_environment(*, redis_url: str, var_dir: Path, mail_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker process on our Redis and the current database (the test's, in a test)."""
    db = connection.settings_dict
    environment = {
        **os.environ,
        "REDIS_URL": redis_url,
        "IMR_VAR_DIR": str(var_dir),
        "EMAIL_URL": f"filemail:///{mail_dir}",
    }
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        environment["DATABASE_URL"] = (
            f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    environment.update(extra)
    return environment


class Worker:
    """A `celery worker` process (prefork) in a session of its own, so its pool can be killed with it."""

    def __init__(self, *, name: str, environment: dict[str, str], concurrency: int = 1, log: Path | None = None):
        self.name, self.environment, self.concurrency, self.log = name, environment, concurrency, log
        self.process: subprocess.Popen | None = None

    @property
    def hostname(self) -> str:
        return f"{self.name}@localhost"

    def start(self) -> None:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115  closed with the process
        self.process = subprocess.Popen(  # noqa: S603  our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "imr", "worker", "--pool=prefork",
             f"--concurrency={self.concurrency}", "-n", self.hostname, "-l", "info"],
            cwd=ROOT, env=self.environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        """The pool processes (children of the main process)."""
        if not self.alive():
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in path.read_text().split()]
        return []

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once (a machine or OOM kill): nothing is acknowledged."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def kill_main(self) -> None:
        """SIGKILL the main process only; its pool children find their parent gone and exit."""
        if self.alive():
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        elif self.process is not None:  # the main process is gone: leave no pool child behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def sent_emails(mail_dir: Path) -> Counter:
    """(recipient, subject) -> how many times, from the file-based e-mail backend's files."""
    sent = Counter()
    for path in sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []:
        for chunk in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                message = email.message_from_string(chunk.lstrip("\n"))
                sent[(message["To"], message["Subject"])] += 1
    return sent


def use_broker(app, url: str) -> str:
    """Point this process's Celery app at another broker; returns the previous URL.

    The app keeps a pool of connections to the broker it first used: it is closed and forgotten,
    so sends and control commands (ping) reach the new broker (as after a fork).
    """
    previous = app.conf.broker_url
    app.conf.broker_url = url
    kombu_pools.reset()  # the process-wide pools, keyed by URL: a new Redis on an old port needs new connections
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None
    return previous
