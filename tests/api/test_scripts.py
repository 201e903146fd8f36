"""
scripts/lib/proc.sh, the helpers scripts/cluster.sh, ha.sh and ha_redis.sh source: free_port
must hand out distinct ports within one script even when the kernel offers the same free port
twice (it is free again as soon as the probe closes it). A fake python3 (PY) stands in for the
kernel's choice. No server, no database.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "scripts" / "lib" / "proc.sh"


def run_bash(script: str, tmp_path: Path) -> str:
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                       text=True, timeout=30, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    return p.stdout


def fake_python(tmp_path: Path, ports: list[int]) -> Path:
    """A PY that prints the next of ports each time it runs."""
    (tmp_path / "offers").write_text("".join(f"{p}\n" for p in ports))
    py = tmp_path / "fake-python3"
    py.write_text("#!/bin/sh\nhead -1 offers\nsed -i 1d offers\n")
    py.chmod(0o755)
    return py


def test_free_port_never_hands_out_a_port_twice(tmp_path):
    py = fake_python(tmp_path, [40001, 40001, 40002, 40001, 40003])
    out = run_bash(f'PY={py}; USED_PORTS=" 80 "; . {LIB}\n'
                   'free_port a; free_port b; free_port c; echo "$a $b $c"', tmp_path)
    assert out.split() == ["40001", "40002", "40003"]


def test_free_port_skips_the_used_ports(tmp_path):
    py = fake_python(tmp_path, [5432, 6379, 40010])
    out = run_bash(f'PY={py}; USED_PORTS=" 5432 6379 "; . {LIB}\nfree_port p; echo "$p"',
                   tmp_path)
    assert out.split() == ["40010"]


def test_wait_for_retries_until_the_command_succeeds(tmp_path):
    """wait_for runs the command until it succeeds, in the calling shell (what it sets stays
    set), and returns 0 at once then."""
    out = run_bash(f'. {LIB}\nn=0\nthird() {{ n=$((n + 1)); found=$n; [ "$n" -ge 3 ]; }}\n'
                   'wait_for 10 0.01 third; echo "$? $n $found"', tmp_path)
    assert out.split() == ["0", "3", "3"]


def test_wait_for_gives_up_by_the_clock(tmp_path):
    """A command that never succeeds: 1 after SECONDS by the clock, even when each try is slow
    (a count of tries would wait far longer), and one try at least."""
    import time
    t0 = time.monotonic()
    out = run_bash(f'. {LIB}\ntries=0\nslow() {{ tries=$((tries + 1)); sleep 0.4; return 1; }}\n'
                   'rc=0; wait_for 1 0.1 slow || rc=$?; echo "$rc $tries"', tmp_path)
    took = time.monotonic() - t0
    rc, tries = out.split()
    assert rc == "1"
    assert 2 <= int(tries) <= 4, tries
    assert 0.9 < took < 3.0, took
