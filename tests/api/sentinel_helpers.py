"""
A throwaway Redis Sentinel deployment for test_sentinel.py (and scripts/ha.sh's Redis part uses
the same settings): one primary, two replicas (`--replicaof`), three sentinels (Debian's
redis-sentinel) with a quorum of 2, all on free loopback ports, each in its own temp dir and
stopped by its pid (never by name). down-after-milliseconds and failover-timeout are small so a
failover after SIGKILL of the primary takes a few seconds.

FakeSentinel is a RESP server that answers `SENTINEL get-master-addr-by-name` with whatever
address the test sets: a stale sentinel that names a replica.
"""

from __future__ import annotations

import shutil
import socketserver
import threading
import time

from redis_helpers import RedisServer, _read_resp

SENTINEL_BIN = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
MASTER = "mymaster"


class Node(RedisServer):
    """One redis-server (argv_tail added to its command line) or, with sentinel, one
    redis-sentinel (conf added to its sentinel.conf) in its own directory."""

    dir_prefix = "ticketd-sentinel-"

    def __init__(self, argv_tail: list[str], sentinel: bool = False, conf: str = ""):
        super().__init__()
        self.sentinel = sentinel
        self.conf = conf
        self.argv_tail = argv_tail

    def argv(self) -> list[str]:
        if not self.sentinel:
            return super().argv()
        cf = self.dir / "sentinel.conf"
        cf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n" + self.conf)
        return [SENTINEL_BIN, str(cf), "--loglevel", "warning"]

    def extra_args(self) -> list[str]:
        return self.argv_tail


class SentinelSet:
    def __init__(self, replicas: int = 2, sentinels: int = 3, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 3000):
        self.primary = Node([])
        self.replicas = [Node(["--replicaof", "127.0.0.1", str(self.primary.port)])
                         for _ in range(replicas)]
        conf = (f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {down_after_ms}\n"
                f"sentinel failover-timeout {MASTER} {failover_timeout_ms}\n"
                f"sentinel parallel-syncs {MASTER} 1\n")
        self.sentinels = [Node([], sentinel=True, conf=conf) for _ in range(sentinels)]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER}/0"

    def nodes(self) -> list[Node]:
        return [self.primary, *self.replicas, *self.sentinels]

    def start(self, timeout: float = 30.0) -> "SentinelSet":
        for n in self.nodes():
            n.start()
        # every sentinel knows both replicas and the other sentinels (hello messages, ~2 s)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(len(s.command("SENTINEL", "replicas", MASTER)) == len(self.replicas) and
                       len(s.command("SENTINEL", "sentinels", MASTER)) ==
                       len(self.sentinels) - 1 for s in self.sentinels):
                    return self
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the sentinels did not discover each other and the replicas")

    def master_port(self) -> int | None:
        """The primary's port as the first live sentinel says."""
        for s in self.sentinels:
            try:
                r = s.command("SENTINEL", "get-master-addr-by-name", MASTER)
                return int(r[1])
            except (OSError, RuntimeError):
                continue
        return None

    def node_on(self, port: int) -> Node:
        return next(n for n in [self.primary, *self.replicas] if n.port == port)

    def destroy(self) -> None:
        for n in self.nodes():
            n.destroy()


class FakeSentinel:
    """Answers SENTINEL get-master-addr-by-name with self.answer (host, port) and PING; counts
    the questions."""

    def __init__(self, answer: tuple[str, int]):
        self.answer = answer
        self.asked = 0
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while True:
                    try:
                        cmd = _read_resp(self.rfile)
                    except (RuntimeError, OSError, ValueError):
                        return
                    if not isinstance(cmd, list) or not cmd:
                        return
                    if cmd[0].upper() == "PING":
                        self.wfile.write(b"+PONG\r\n")
                    elif cmd[0].upper() == "SENTINEL" and len(cmd) == 3:
                        fake.asked += 1
                        h, p = fake.answer[0], str(fake.answer[1])
                        self.wfile.write(f"*2\r\n${len(h)}\r\n{h}\r\n${len(p)}\r\n{p}\r\n"
                                         .encode())
                    else:
                        self.wfile.write(b"-ERR unknown command\r\n")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
