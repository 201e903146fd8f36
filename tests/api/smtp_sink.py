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

TLS and AUTH (make the certificate with make_cert(tmp_path)):
    SmtpSink(tls="starttls", cert=..., key=..., auth=("user", "pw"))   # smtp://, STARTTLS
        required before anything else (require_starttls), AUTH required and only after it
    SmtpSink(tls="smtps", ...)                                          # smtps://, implicit TLS
        (aiosmtpd 1.4 counts only STARTTLS for auth_require_tls, so there it is off: the
        whole session is TLS anyway)
Each accepted Received says whether its session was TLS (.tls) and who logged in (.login);
sink.logins lists every login tried (ok or not), sink.tls_sessions the TLS handshakes made.

CuttingProxy(sink) sits in front of a sink and, while .cutting, closes both sides after
forwarding part of a message's DATA (never its final "."): a connection dropped mid-DATA.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


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
    tls: bool = False
    login: str | None = None


def make_cert(directory) -> tuple[str, str]:
    """A throwaway self-signed certificate for 127.0.0.1 (openssl CLI): (cert.pem, key.pem).
    The certificate is its own CA: give it to ticketd as SMTP_CA_FILE to trust it."""
    cert, key = f"{directory}/smtp-cert.pem", f"{directory}/smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


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
        tls = server.transport.get_extra_info("ssl_object") is not None
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        rec = Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg, tls, login)
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
    def __init__(self, mode: str = "ok", hang_seconds: float = 5.0, tls: str | None = None,
                 cert: str | None = None, key: str | None = None,
                 auth: tuple[str, str] | None = None):
        self.mode = mode
        self.tls = tls
        self.auth = auth
        self.logins: list[tuple[str, bool]] = []
        self.tls_sessions = 0
        self.hang_seconds = hang_seconds
        self.port = _free_port()
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.dropped: list[Received] = []
        self.attempts: list[str] = []
        params: dict = {}
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert, key)
            if tls == "starttls":
                params.update(tls_context=ctx, require_starttls=True)
            else:
                params.update(ssl_context=ctx)
        if auth is not None:
            params.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls == "starttls")
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     decode_data=False, data_size_limit=50 * 1024 * 1024,
                                     **params)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = (login, password) == self.auth
        with self.lock:
            self.logins.append((login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def url(self) -> str:
        return f"{'smtps' if self.tls == 'smtps' else 'smtp'}://127.0.0.1:{self.port}"

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


class CuttingProxy:
    """A TCP proxy on its own loopback port in front of `upstream` (a SmtpSink without TLS: it
    reads the plain SMTP). While .cutting, a connection whose server said 354 (go ahead with
    DATA) forwards only the first part of what the client sends next, never the final
    "\r\n.\r\n", then closes both sockets: the server never accepts the message. .cuts counts
    those connections, .partials keeps the bytes each let through."""

    def __init__(self, upstream: SmtpSink):
        self.upstream = upstream
        self.port = _free_port()
        self.cutting = True
        self.cuts = 0
        self.partials: list[bytes] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> "CuttingProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping = True
        self.thread.join(5)
        self.listener.close()

    def message_ids(self) -> list[str]:
        with self.lock:
            parts = list(self.partials)
        return [m.group(1).decode() for p in parts
                if (m := re.search(rb"(?mi)^Message-ID:\s*(<[^>\r\n]+>)", p))]

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream.port))
            state = {"data": False, "closed": False}
            threading.Thread(target=self._down, args=(upstream, client, state),
                             daemon=True).start()
            threading.Thread(target=self._up, args=(client, upstream, state),
                             daemon=True).start()

    @staticmethod
    def _close(*socks) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _down(self, upstream, client, state) -> None:
        """Server to client, watching for the 354 that starts the DATA."""
        try:
            while (b := upstream.recv(65536)):
                if re.search(rb"(^|\n)354[ -]", b):
                    state["data"] = True
                client.sendall(b)
        except OSError:
            pass
        self._close(client, upstream)

    def _up(self, client, upstream, state) -> None:
        """Client to server; mid-DATA while cutting: a part, then both closed."""
        buf = b""
        try:
            while (b := client.recv(65536)):
                if state["data"] and self.cutting:
                    buf += b
                    if len(buf) < 2048 and b"\r\n.\r\n" not in buf:
                        continue  # enough of the message to be sure it is mid-DATA
                    part = buf[:min(len(buf) // 2, 4096)]
                    assert b"\r\n.\r\n" not in part
                    upstream.sendall(part)
                    with self.lock:
                        self.cuts += 1
                        self.partials.append(part)
                    break
                upstream.sendall(b)
        except OSError:
            pass
        self._close(client, upstream)
