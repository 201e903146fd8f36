#!/usr/bin/python3
"""
Mail numbers for bench/results: (1) the outbox delivery rate against a real SMTP server
(aiosmtpd on loopback, tests/api/smtp_sink.py) and into .eml files, (2) how alike the timing of
POST /auth/password-reset is for a known and an unknown e-mail.

  bench/mail.py [--messages 500] [--requests 300] [--backend sqlite|postgres|both]
                [--against OLD_TICKETD_BIN]

(1) A server with JOBS=off takes `messages` password-reset requests for one account (so the
outbox holds that many messages; rate limits off), then `ticketd jobs run-once mail` with
MAIL_BATCH=messages sends them all: messages/s is messages / the run's wall time (process start
and exit included), once to the sink and once into MAIL_DIR. (2) `requests` requests alternating
known / unknown addresses on one keep-alive connection, after a warm-up; mean, median and p90
of each, and the difference of the means.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "api"))

import requests  # noqa: E402

from conftest import (TICKETD_BIN, Server, new_pg_cluster, register, server_env,  # noqa: E402
                      unique_email)
from smtp_sink import SmtpSink  # noqa: E402


def database(backend: str, tmp: Path, pg) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp}/bench.db"
    return pg.create_database()


def delivery(backend: str, pg, n: int) -> list[str]:
    out = []
    for target in ("smtp", "eml"):
        tmp = Path(tempfile.mkdtemp(prefix="ticketd-mail-bench-"))
        url = database(backend, tmp, pg)
        srv = Server(backend, url, tmp, JOBS="off", WORKERS="8").start()
        try:
            em = unique_email("bench")
            register(srv, email=em)
            s = requests.Session()
            for _ in range(n):
                r = s.post(srv.api + "/auth/password-reset", json={"email": em}, timeout=30)
                assert r.status_code == 202, r.text
        finally:
            srv.stop()
        with SmtpSink() as sink:
            extra = {"SMTP_URL": sink.url} if target == "smtp" else {"MAIL_DIR": str(tmp / "mail")}
            env = server_env(url, MAIL_BATCH=str(n), **extra)
            t0 = time.monotonic()
            p = subprocess.run([str(TICKETD_BIN), "jobs", "run-once", "mail"], env=env, cwd=tmp,
                               capture_output=True, text=True, timeout=600)
            dt = time.monotonic() - t0
            assert p.returncode == 0, p.stderr[-2000:]
            got = len(sink.messages) if target == "smtp" else len(list((tmp / "mail").glob("*.eml")))
        assert got == n, (target, got, n, p.stdout)
        out.append(f"{backend:8s} {target:4s} {n} messages in {dt:.2f} s = {n / dt:.0f} messages/s "
                   f"(one run of the mail job, process start included)")
    return out


def timing(backend: str, pg, n: int) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="ticketd-mail-bench-"))
    srv = Server(backend, database(backend, tmp, pg), tmp, JOBS="off", WORKERS="4").start()
    try:
        known = unique_email("known")
        register(srv, email=known)
        s = requests.Session()
        times = {"known": [], "unknown": []}
        for i in range(n + 40):
            kind = "known" if i % 2 == 0 else "unknown"
            em = known if kind == "known" else unique_email("nobody")
            t0 = time.perf_counter()
            r = s.post(srv.api + "/auth/password-reset", json={"email": em}, timeout=30)
            dt = (time.perf_counter() - t0) * 1e6
            assert r.status_code == 202
            if i >= 40:  # warm-up
                times[kind].append(dt)
    finally:
        srv.stop()
    lines = []
    for kind, v in times.items():
        v.sort()
        lines.append(f"{backend:8s} reset {kind:7s} n={len(v)} mean {statistics.mean(v):7.0f} us  "
                     f"median {statistics.median(v):7.0f} us  p90 {v[int(len(v) * 0.9)]:7.0f} us")
    d = statistics.mean(times["known"]) - statistics.mean(times["unknown"])
    lines.append(f"{backend:8s} reset mean(known) - mean(unknown) = {d:+.0f} us")
    return lines


def timing_against(backend: str, pg, n: int, other_bin: str) -> list[str]:
    """Like timing(), but two servers at once: this build and `other_bin` (an older build), each
    on its own database, their requests interleaved (this-known, other-known, this-unknown,
    other-unknown, rotating) so both see the same machine load: on a shared, busy machine two
    separate runs differ more than the effect measured."""
    import conftest
    servers = {}
    this_bin = conftest.TICKETD_BIN
    try:
        for name, binary in (("this", this_bin), ("other", Path(other_bin))):
            tmp = Path(tempfile.mkdtemp(prefix="ticketd-mail-bench-"))
            conftest.TICKETD_BIN = binary
            srv = Server(backend, database(backend, tmp, pg), tmp, JOBS="off", WORKERS="4").start()
            known = unique_email("known")
            register(srv, email=known)
            servers[name] = (srv, known, requests.Session())
    finally:
        conftest.TICKETD_BIN = this_bin
    times = {(b, k): [] for b in servers for k in ("known", "unknown")}
    order = [("this", "known"), ("other", "known"), ("this", "unknown"), ("other", "unknown")]
    try:
        for i in range(n + 40):
            for j in range(4):
                b, kind = order[(i + j) % 4]
                srv, known, s = servers[b]
                em = known if kind == "known" else unique_email("nobody")
                t0 = time.perf_counter()
                r = s.post(srv.api + "/auth/password-reset", json={"email": em}, timeout=30)
                dt = (time.perf_counter() - t0) * 1e6
                assert r.status_code == 202
                if i >= 40:
                    times[(b, kind)].append(dt)
    finally:
        for srv, _, _ in servers.values():
            srv.stop()
    lines = []
    for b in servers:
        for kind in ("known", "unknown"):
            v = sorted(times[(b, kind)])
            lines.append(f"{backend:8s} {b:5s} reset {kind:7s} n={len(v)} mean "
                         f"{statistics.mean(v):7.0f} us  median {statistics.median(v):7.0f} us  "
                         f"p90 {v[int(len(v) * 0.9)]:7.0f} us")
        k, u = times[(b, "known")], times[(b, "unknown")]
        lines.append(f"{backend:8s} {b:5s} reset known - unknown: mean "
                     f"{statistics.mean(k) - statistics.mean(u):+.0f} us, median "
                     f"{statistics.median(k) - statistics.median(u):+.0f} us")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    ap.add_argument("--against", metavar="TICKETD_BIN",
                    help="time the password reset of this build and of that binary, interleaved "
                         "(no delivery run)")
    a = ap.parse_args()
    backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
    pg = new_pg_cluster() if "postgres" in backends else None
    try:
        for b in backends:
            if a.against:
                for line in timing_against(b, pg, a.requests, a.against):
                    print(line, flush=True)
                continue
            for line in delivery(b, pg, a.messages) + timing(b, pg, a.requests):
                print(line, flush=True)
    finally:
        if pg is not None:
            pg.destroy()


if __name__ == "__main__":
    main()
