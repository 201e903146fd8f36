"""A real SMTP server for the mail tests: aiosmtpd (Debian's python3-aiosmtpd) on a free
loopback port, in a thread of the test process, recording what it accepts.

    with SmtpSink() as sink:             # sink.url == "smtp://127.0.0.1:<port>"
        ... start ticketd with SMTP_URL=sink.url ...
        msgs = sink.wait_for(1)          # [Received], each .msg an email.message.EmailMessage

sink.mode says how the next transactions are answered:
  "ok"        250, the message is recorded in sink.messages
  "refuse4xx" 451 to RCPT TO (try again later)
  "refuse5xx" 550 to RCPT TO (no such user)
  "hang"      after the DATA is received, no answer for sink.hang_seconds (the client times
              out); nothing recorded
  "drop"      after the DATA is received, the connection is closed with no answer (a lost
              reply); nothing recorded, but the message is kept in sink.dropped
Every transaction that reached DATA, whatever the mode, is also in sink.attempts (its
Message-ID), so a test can compare the Message-ID of a retry with the first try's.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    msg: email.message.EmailMessage


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = self.sink.mode
        if mode == "refuse4xx":
            return "451 4.3.0 try again later"
        if mode == "refuse5xx":
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        rec = Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg)
        mode = self.sink.mode
        with self.sink.lock:
            self.sink.attempts.append(msg["Message-ID"])
        if mode == "hang":
            await asyncio.sleep(self.sink.hang_seconds)
            return "451 4.4.2 too late"
        if mode == "drop":
            with self.sink.lock:
                self.sink.dropped.append(rec)
            server.transport.abort()
            return "451 4.4.2 gone"
        with self.sink.lock:
            self.sink.messages.append(rec)
        return "250 OK: queued"


class SmtpSink:
    def __init__(self, mode: str = "ok", hang_seconds: float = 5.0):
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.port = _free_port()
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.dropped: list[Received] = []
        self.attempts: list[str] = []
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     decode_data=False, data_size_limit=50 * 1024 * 1024)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, n: int, timeout: float = 15.0, predicate=None) -> list[Received]:
        """The first n accepted messages (matching predicate), waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = [m for m in self.messages if predicate is None or predicate(m)]
            if len(got) >= n or time.monotonic() > deadline:
                assert len(got) >= n, f"{len(got)} of {n} messages arrived; attempts: " \
                                      f"{len(self.attempts)}"
                return got
            time.sleep(0.05)
