"""The command line: --help, migrate, admin create, and configuration errors."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import (
    JWT_ACCESS_SECRET, JWT_REFRESH_SECRET, clean_environ, free_port, login, sanitizer_report,
    unique_email,
)

ENV_VARS = ["PORT", "DATABASE_URL", "REDIS_URL", "JWT_ACCESS_SECRET", "JWT_REFRESH_SECRET",
            "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "ADMIN_EMAIL", "ADMIN_PASSWORD", "WORKERS",
            "LOG_LEVEL"]


@pytest.fixture
def run(ticketd_bin, tmp_path):
    """run(*args, **env) -> CompletedProcess, in an empty working dir with a clean environment."""

    def _run(*args, timeout=30, **env):
        full_env = clean_environ()
        full_env.update({k: str(v) for k, v in env.items()})
        try:
            return subprocess.run([str(ticketd_bin), *args], env=full_env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"ticketd {' '.join(args)} still running after {timeout}s "
                        f"(stderr: {e.stderr!r})")

    return _run


def db_env(backend, url) -> dict:
    env = {"DATABASE_URL": url}
    if backend == "postgres":
        env.update(JWT_ACCESS_SECRET=JWT_ACCESS_SECRET, JWT_REFRESH_SECRET=JWT_REFRESH_SECRET)
    return env


def assert_tidy_failure(proc, *names) -> None:
    """A non-zero exit with a short, human message on stderr naming what is wrong."""
    assert proc.returncode != 0
    assert proc.stderr.strip(), "no message on stderr"
    assert len(proc.stderr) < 2000, proc.stderr
    assert not sanitizer_report(proc.stderr), proc.stderr
    for bad in ("segmentation", "core dumped", "traceback", "aborted", "assertion"):
        assert bad not in proc.stderr.lower(), proc.stderr
    for name in names:
        assert name in proc.stderr, proc.stderr


def test_help_lists_every_variable(run):
    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    missing = [v for v in ENV_VARS if v not in proc.stdout]
    assert not missing, f"--help does not mention {missing}:\n{proc.stdout}"


def test_readme_configuration_table_is_the_binarys(run):
    """The README's configuration table is `ticketd --help-markdown`: both come from the one
    table in src/core/config_table.c, so a default, range or variable changed there and not
    regenerated into the README fails here."""
    proc = run("--help-markdown")
    assert proc.returncode == 0, proc.stderr
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    begin = readme.index("| variable | default | range | meaning |")
    end = readme.index("<!-- end of the generated table -->")
    assert readme[begin:end] == proc.stdout, (
        "README.md's configuration table differs from `ticketd --help-markdown`; "
        "regenerate it from the binary")
    for name in ENV_VARS + ["HOLD_TTL", "CACHE_POOL_SIZE", "RATE_LIMIT_HOLD_USER"]:
        assert f"| `{name}` |" in proc.stdout, name
    assert "| `HOLD_TTL` | `480s` | 1s..2h |" in proc.stdout


def test_help_shows_defaults_and_ranges(run):
    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.strip().startswith("HOLD_TTL "))
    assert "(480s; 1s..2h)" in line, line


def test_unknown_command_fails(run):
    assert_tidy_failure(run("no-such-command"))


def test_migrate_twice(run, backend, new_database_url):
    env = db_env(backend, new_database_url(backend))
    first = run("migrate", **env)
    assert first.returncode == 0, first.stderr
    assert not sanitizer_report(first.stderr), first.stderr
    second = run("migrate", **env)
    assert second.returncode == 0, second.stderr
    assert not sanitizer_report(second.stderr), second.stderr


def test_admin_create(run, backend, new_database_url, make_server):
    url = new_database_url(backend)
    env = db_env(backend, url)
    email = unique_email("cli-admin")
    proc = run("admin", "create", "--email", email, "--password", "longenough1", **env)
    assert proc.returncode == 0, proc.stderr
    assert "longenough1" not in proc.stdout + proc.stderr

    again = run("admin", "create", "--email", email, "--password", "longenough1", **env)
    assert_tidy_failure(again)

    srv = make_server(backend, database_url=url)
    body = login(srv, email, "longenough1")
    assert body["user"]["role"] == "admin"


def test_admin_create_rejects_a_short_password(run, new_database_url):
    url = new_database_url("sqlite")
    proc = run("admin", "create", "--email", unique_email(), "--password", "short",
               DATABASE_URL=url)
    assert_tidy_failure(proc)
    # refused input changes nothing: the database was never created (nor migrated)
    assert not os.path.exists(url.removeprefix("sqlite://")), url


PG_URL_NOWHERE = "postgres://postgres@127.0.0.1:1/x"  # never connected: config comes first


@pytest.mark.parametrize("env,name", [
    pytest.param({"PORT": "abc"}, "PORT", id="port-abc"),
    pytest.param({"PORT": "70000"}, "PORT", id="port-70000"),
    pytest.param({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", id="mysql-url"),
    pytest.param({"DATABASE_URL": PG_URL_NOWHERE, "JWT_ACCESS_SECRET": "short",
                  "JWT_REFRESH_SECRET": JWT_REFRESH_SECRET}, "JWT_ACCESS_SECRET",
                 id="short-secret"),
    pytest.param({"DATABASE_URL": PG_URL_NOWHERE}, "JWT_ACCESS_SECRET", id="pg-without-secret"),
    pytest.param({"WORKERS": "0"}, "WORKERS", id="workers-0"),
    pytest.param({"LOG_LEVEL": "loud"}, "LOG_LEVEL", id="log-level"),
    pytest.param({"ACCESS_TOKEN_TTL": "forever"}, "ACCESS_TOKEN_TTL", id="ttl"),
])
def test_invalid_config_exits_2_naming_the_variable(run, tmp_path, env, name):
    full = {"DATABASE_URL": f"sqlite://{tmp_path / 't.db'}", "PORT": str(free_port()),
            "BIND_ADDRESS": "127.0.0.1", **env}
    proc = run(timeout=10, **full)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert_tidy_failure(proc, name)


def test_a_retired_variable_is_refused_naming_its_replacement(run, tmp_path):
    """SEATMAP_STALE_MS was renamed SEATMAP_STALE: a server given the old name would otherwise
    run with the default (off) while its operator believes the setting is on. The config module
    refuses bad input rather than warn (every other bad value fails the load), so the old name
    fails it too, with a sentence naming the new one; the new name alone starts."""
    base = {"DATABASE_URL": f"sqlite://{tmp_path / 't.db'}", "PORT": str(free_port()),
            "BIND_ADDRESS": "127.0.0.1"}
    for env in ({"SEATMAP_STALE_MS": "1000ms"}, {"SEATMAP_STALE_MS": "1000ms",
                                                "SEATMAP_STALE": "1000ms"}):
        proc = run(timeout=10, **base, **env)
        assert proc.returncode == 2, (proc.returncode, proc.stderr)
        assert_tidy_failure(proc, "SEATMAP_STALE_MS", "renamed SEATMAP_STALE")
        assert not os.path.exists(tmp_path / "t.db"), "a refused start touched the database"
    assert run("migrate", timeout=30, **base, SEATMAP_STALE="1000ms").returncode == 0
