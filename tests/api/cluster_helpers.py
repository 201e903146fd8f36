"""
A ticketd cluster for tests: scripts/cluster.sh starts one PostgreSQL, one Redis, N ticketd
servers and nginx (built from deploy/nginx.conf) on free loopback ports in a temp dir; Cluster
wraps it. Endpoints look like conftest.Server to the helpers (`.api`, `.url`, `.database_url`),
so catalog_helpers and booking_helpers work through nginx or against one server directly.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import (
    ADMIN_EMAIL, ADMIN_PASSWORD, JWT_ACCESS_SECRET, JWT_REFRESH_SECRET, REPO, TICKETD_BIN,
    clean_environ, sanitizer_report,
)

CLUSTER_SH = REPO / "scripts" / "cluster.sh"


class Endpoint:
    """One HTTP entry point of the cluster: nginx or one server."""

    def __init__(self, name: str, port: int, database_url: str, pid: int | None = None):
        self.name, self.port, self.database_url, self.pid = name, port, database_url, pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def __repr__(self) -> str:
        return f"Endpoint({self.name}, {self.port})"


class Cluster:
    def __init__(self, n: int = 3, **env):
        self.n = n
        self.dir = Path(tempfile.mkdtemp(prefix="ticketd-cluster-"))
        self.env = clean_environ()
        self.env.update(
            TICKETD_BIN=str(TICKETD_BIN), CLUSTER_DIR=str(self.dir),
            JWT_ACCESS_SECRET=JWT_ACCESS_SECRET, JWT_REFRESH_SECRET=JWT_REFRESH_SECRET,
            ADMIN_EMAIL=ADMIN_EMAIL, ADMIN_PASSWORD=ADMIN_PASSWORD, PASSWORD_HASH_COST="min",
            LOG_LEVEL="warn", WORKERS="8",
        )
        self.env.update({k: str(v) for k, v in env.items()})
        self.state: dict[str, str] = {}
        self.nginx: Endpoint | None = None
        self.servers: list[Endpoint] = []
        self._up = False

    def _run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([str(CLUSTER_SH), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def start(self) -> "Cluster":
        atexit.register(self.destroy)  # never leave a cluster behind, even on an aborted run
        self._up = True
        p = self._run("start", str(self.n))
        if p.returncode != 0:
            raise RuntimeError(f"cluster.sh start failed ({p.returncode}):\n{p.stdout}\n"
                               f"{p.stderr}\n{self.logs_tail()}")
        self.state = self.read_state()
        db = self.state["DATABASE_URL"]
        self.nginx = Endpoint("nginx", int(self.state["NGINX_PORT"]), db,
                              int(self.state["NGINX_PID"]))
        ports = self.state["TICKETD_PORTS"].split()
        pids = self.state["TICKETD_PIDS"].split()
        self.servers = [Endpoint(f"ticketd{i + 1}", int(port), db, int(pid))
                        for i, (port, pid) in enumerate(zip(ports, pids))]
        return self

    def read_state(self) -> dict[str, str]:
        out = {}
        for line in (self.dir / "cluster.env").read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                out[k] = " ".join(shlex.split(v)) if v else ""
        return out

    def status(self) -> subprocess.CompletedProcess:
        return self._run("status", timeout=60)

    def psql(self, sql: str) -> list[list[str]]:
        """Runs one query on the cluster's database; rows of text fields."""
        psql = Path(self.state["PG_BIN"]) / "psql"
        cmd = [str(psql), "-h", "127.0.0.1", "-p", self.state["PG_PORT"], "-U", "postgres",
               "-d", "ticketd", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
               "-c", sql]
        p = subprocess.run(cmd, env=clean_environ(), capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"psql failed: {p.stderr}"
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def server_logs(self) -> dict[str, str]:
        return {f.name: f.read_text(errors="replace")
                for f in sorted(self.dir.glob("ticketd*.log"))}

    def logs_tail(self, n: int = 3000) -> str:
        parts = []
        for f in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {f.name} ---\n{f.read_text(errors='replace')[-n:]}")
        return "\n".join(parts)

    def sanitizer_reports(self) -> list[str]:
        return [f"{name}: {line}" for name, text in self.server_logs().items()
                for line in sanitizer_report(text)]

    def destroy(self) -> None:
        """Stops everything cluster.sh started and removes the directory (idempotent). With
        TICKETD_KEEP_CLUSTER=1 in the environment the directory (logs, nginx.conf) stays."""
        if not self._up:
            return
        self._up = False
        try:
            self._run("stop", timeout=120)
        finally:
            keep = os.environ.get("TICKETD_KEEP_CLUSTER") == "1"
            if not keep and not (self.dir / "cluster.env").exists():
                shutil.rmtree(self.dir, ignore_errors=True)


def kill_server(ep: Endpoint, sig: int) -> None:
    """Signals one server of the cluster (by the pid cluster.sh recorded)."""
    os.kill(ep.pid, sig)


@contextmanager
def running_cluster(n: int, **env: str) -> Iterator[Cluster]:
    """A started cluster of n servers; on the way out its servers' logs must hold no sanitizer
    report, and everything it started is stopped and removed."""
    c = Cluster(n, **env)
    try:
        c.start()
        yield c
        reports = c.sanitizer_reports()
        assert not reports, "sanitizer reports in the servers' logs:\n" + "\n".join(reports[:20])
    finally:
        c.destroy()
