"""The bearer-token path of the release server under valgrind (memcheck), with the garbage tokens
that made libjwt 1.10.2 write past a zero-size buffer before any signature check (issue 10).

ASan cannot see that write (libjwt is not instrumented), so this runs the release binary under
valgrind with --error-exitcode: any memcheck error in the server fails the test. Skipped when
valgrind is not installed (scripts/deps.sh test installs it). SQLite only: the path under test
does not reach the database for a refused token, and valgrind is slow.
"""

import shutil
import subprocess

import pytest

import conftest
from conftest import (
    JWT_ACCESS_SECRET, access_claims, assert_error, call, forge_jwt, jwt_payload, register,
)

VALGRIND = shutil.which("valgrind")


def _sanitized(binary) -> bool:
    """An ASan build cannot run under valgrind; this test is for the release binary."""
    try:
        return b"__asan_init" in binary.read_bytes()
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed"),
    pytest.mark.skipif(bool(conftest.TICKETD_WRAPPER),
                       reason="every server already runs under TICKETD_WRAPPER"),
    pytest.mark.skipif(_sanitized(conftest.TICKETD_BIN),
                       reason="an ASan build does not run under valgrind"),
]

VALGRIND_ERROR_EXIT = 99

# Every empty-segment shape, plus the other forms the strict parser refuses.
GARBAGE = [
    "..", ".e30.x", "eyJhbGciOiJIUzI1NiJ9..sig", ".e30.", "e30..", "...", "....",
    "eyJhbGciOiJIUzI1NiJ9.e30.", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..",
    ".eyJzdWIiOiJ4In0." + "A" * 43, "..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "a.b.c", "a.b.c.d", "=.=.=", "e30=.e30=.x", "eyJhbGciOiJub25lIn0.e30.",
]


@pytest.fixture
def valgrind_server(monkeypatch, make_server):
    """A release server started under valgrind memcheck, through conftest's TICKETD_WRAPPER
    (the mechanism make valgrind uses), its report in a log file of its own."""
    monkeypatch.setattr(conftest, "TICKETD_WRAPPER", [
        VALGRIND, "--tool=memcheck", f"--error-exitcode={VALGRIND_ERROR_EXIT}",
        "--errors-for-leak-kinds=none", "--log-file={log}"])
    srv = make_server("sqlite", start=False, WORKERS="2")
    srv.start(timeout=180)
    return srv


def test_garbage_tokens_under_valgrind(valgrind_server):
    srv = valgrind_server
    for token in GARBAGE:
        r = call("GET", srv, "/me", token=token, timeout=60)
        assert_error(r, 401, "invalid_token")
    # control: a real token and one forged with the right secret still work under valgrind
    reg = register(srv)
    r = call("GET", srv, "/me", token=reg["access_token"], timeout=60)
    assert r.status_code == 200, r.text
    claims = access_claims(reg["user"]["id"], jwt_payload(reg["access_token"])["sid"],
                           ep=jwt_payload(reg["access_token"]).get("ep", 0))
    r = call("GET", srv, "/me", token=forge_jwt(JWT_ACCESS_SECRET, claims), timeout=60)
    assert r.status_code == 200, r.text
    rc = srv.stop(timeout=120)
    report = srv.wrapper_text()
    assert "ERROR SUMMARY" in report, f"no memcheck report at {srv.wrapper_log}"
    assert rc != VALGRIND_ERROR_EXIT and "Invalid write" not in report, \
        f"memcheck found errors in the server (exit {rc}):\n{report[-8000:]}"
    assert rc == 0, f"ticketd exited with {rc}; stderr:\n{srv.stderr_text()[-3000:]}"
