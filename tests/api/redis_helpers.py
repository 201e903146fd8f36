"""
A throwaway redis-server for the cache and event tests (test_cache.py, test_sse.py), and a small
Server-Sent Events client.

RedisServer runs `redis-server --port P --save '' --appendonly no` on a free loopback port in a
temp dir, stopped by its pid (never by name). It can be killed (data lost, like a crash),
paused with SIGSTOP (a network partition: connections hang until the client's time-out) and
resumed, and started again on the same port.
"""

from __future__ import annotations

import atexit
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import TIMEOUT, free_port

REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """One redis-server (or, in sentinel_helpers.Node, redis-sentinel) process in its own temp
    dir. Subclasses change what runs by overriding argv()."""

    dir_prefix = "ticketd-redis-"

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=self.dir_prefix))
        self.proc: subprocess.Popen | None = None
        atexit.register(self.destroy)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        """The command line start() runs; extra_args() goes last."""
        return [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no",
                "--loglevel", "warning", *self.extra_args()]

    def extra_args(self) -> list[str]:
        return []

    def start(self, timeout: float = 10.0) -> "RedisServer":
        """Runs argv() and waits until the process answers PING (an error reply such as
        LOADING counts as not yet)."""
        assert self.proc is None or self.proc.poll() is not None
        argv = self.argv()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return self
            except (OSError, RuntimeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{argv[0]} did not answer on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the data is gone, as after a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a partition)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def command(self, *args: str):
        """One command over RESP; returns a str, int, list or None."""
        return resp_command(self.port, *args)


def resp_command(port: int, *args: str, timeout: float = 2.0):
    """One command over RESP to 127.0.0.1:port; returns a str, int, list or None (an error
    reply raises RuntimeError)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        payload = f"*{len(args)}\r\n" + "".join(
            f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        s.sendall(payload.encode())
        return _read_resp(s.makefile("rb"))


def _read_resp(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(f) for _ in range(n)]
    raise RuntimeError(f"bad RESP line {line!r}")


@pytest.fixture
def redis_server():
    r = RedisServer().start()
    yield r
    r.destroy()


def wait_for(pred, timeout: float = 10.0, step: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


# --------------------------------------------------------------------------------------------
# Server-Sent Events over a plain socket


class SseClient:
    """GET /api/v1/shows/{id}/events, read event by event (chunked transfer decoded)."""

    def __init__(self, server, show_id: str, last_event_id=None, query: str = "",
                 timeout: float = TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        headers = {"Host": "127.0.0.1", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        req = (f"GET /api/v1/shows/{show_id}/events{query} HTTP/1.1\r\n" +
               "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")
        self.sock.sendall(req.encode())
        self.raw = b""      # bytes from the socket not yet de-chunked
        self.text = ""      # de-chunked body not yet parsed into events
        self.ended = False  # the terminating chunk arrived
        self.status = None
        self.headers: dict[str, str] = {}
        self.comments: list[str] = []

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not data:
            self.ended = True
            return False
        self.raw += data
        return True

    def read_headers(self, timeout: float = TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._fill(deadline):
                raise AssertionError(f"no response headers; got {self.raw[:300]!r}")
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        return self.status

    def _dechunk(self) -> None:
        while not self.ended:
            crlf = self.raw.find(b"\r\n")
            if crlf < 0:
                return
            size = int(self.raw[:crlf].split(b";")[0], 16)
            if size == 0:
                self.ended = True
                self.raw = b""
                return
            if len(self.raw) < crlf + 2 + size + 2:
                return
            self.text += self.raw[crlf + 2:crlf + 2 + size].decode()
            self.raw = self.raw[crlf + 2 + size + 2:]

    def next_event(self, timeout: float = 5.0, name: str | None = None):
        """The next event (dict with id, event, data; data parsed as JSON when it is), skipping
        comments (kept in self.comments) and other names when `name` is given. None when the
        stream ended or nothing came in time."""
        if self.status is None:
            self.read_headers()
        deadline = time.monotonic() + timeout
        while True:
            self._dechunk()
            while "\n\n" in self.text:
                block, self.text = self.text.split("\n\n", 1)
                ev = self._parse(block)
                if ev is not None and (name is None or ev.get("event") == name):
                    return ev
            if self.ended or not self._fill(deadline):
                return None

    def _parse(self, block: str):
        ev: dict = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            k, _, v = line.partition(":")
            ev[k] = v[1:] if v.startswith(" ") else v
        if "data" in ev:
            try:
                ev["data"] = json.loads(ev["data"])
            except ValueError:
                pass
        return ev if ("event" in ev or "data" in ev) else None

    def wait_comment(self, text: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.comments:
            self._dechunk()
            while "\n\n" in self.text:
                block, self.text = self.text.split("\n\n", 1)
                self._parse(block)
            if text in self.comments:
                return True
            if self.ended or not self._fill(deadline):
                return text in self.comments
        return True
