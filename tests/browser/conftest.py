"""
Fixtures for the browser tests of the web app (web/, issue 17): Debian's chromium driven by
chromedriver through python3-selenium, headless, against the real server started by the API
suite's helpers (tests/api/conftest.py, loaded here under its own name and re-exported, so
the API helpers' `from conftest import ...` keeps working).

Browsers are slow to start: one server (SQLite) and one browser per module, and a second
browser only for the test that needs two. When chromium or chromedriver is not installed the
whole directory is skipped with a message saying so (scripts/deps.sh test installs them).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

_API = Path(__file__).resolve().parents[1] / "api"
sys.path.insert(0, str(_API))
_spec = importlib.util.spec_from_file_location("api_conftest", _API / "conftest.py")
_api_conftest = importlib.util.module_from_spec(_spec)
sys.modules["api_conftest"] = _api_conftest
_spec.loader.exec_module(_api_conftest)
globals().update({k: v for k, v in vars(_api_conftest).items() if not k.startswith("__")})

REPO = _api_conftest.REPO
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - depends on the machine
    webdriver = None

MISSING = ("python3-selenium" if webdriver is None else "chromium" if CHROMIUM is None
           else "chromedriver (chromium-driver)" if CHROMEDRIVER is None else None)


def pytest_collection_modifyitems(config, items):
    if MISSING:
        skip = pytest.mark.skip(reason=f"browser tests skipped: {MISSING} is not installed "
                                       "(apt-get install -y chromium chromium-driver "
                                       "python3-selenium, or run scripts/deps.sh test)")
        for item in items:
            item.add_marker(skip)


def new_browser(width: int = 412, height: int = 915, extra_args: list[str] | None = None):
    """A headless chromium; phone-sized by default (412 x 915 CSS pixels); extra_args are more
    command-line switches (a fake camera, say)."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", f"--window-size={width},{height}",
                "--lang=en-GB", *(extra_args or [])):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    return drv


@pytest.fixture(scope="module")
def web_server(tmp_path_factory, ticketd_bin):
    """One server per module on SQLite, serving this checkout's web/."""
    yield from serve_web(tmp_path_factory, "web-server")


def serve_web(tmp_path_factory, name: str, **env):
    """A fixture's body: a server on SQLite in a new temp folder (name), serving this checkout's
    web/ with env added to its settings; yields it, then stops it and checks its exit."""
    tmp = tmp_path_factory.mktemp(name)
    srv = _api_conftest.Server("sqlite", f"sqlite://{tmp / 't.db'}", tmp,
                               WEB_DIR=str(REPO / "web"), **env)
    srv.start()
    yield srv
    srv.assert_clean_exit(srv.stop())


@pytest.fixture(scope="module")
def browser():
    drv = new_browser()
    yield drv
    drv.quit()


def wait(drv, cond, timeout: float = 10, what: str = ""):
    return WebDriverWait(drv, timeout).until(lambda d: cond(d), message=what)


def sign_in_as(drv, server, session: dict) -> None:
    """Puts a login answer ({user, access_token, refresh_token}) where the pages keep it."""
    if not drv.current_url.startswith(server.url):
        drv.get(server.url + "/web/app.css")
    drv.execute_script("localStorage.setItem('ticketd.session', arguments[0]);",
                       json.dumps({k: session[k] for k in ("user", "access_token",
                                                            "refresh_token")}))


def sign_out(drv, server) -> None:
    if not drv.current_url.startswith(server.url):
        drv.get(server.url + "/web/app.css")
    drv.execute_script("localStorage.clear(); sessionStorage.clear();")


def axe_violations(drv, include: list[str] | None = None) -> list[dict]:
    """axe-core (tests/browser/vendor, from npm) on the current page, or on the parts of it
    that the CSS selectors in include name: serious and critical violations only, each as
    {id, impact, help, nodes: [targets]}."""
    drv.execute_script(AXE.read_text())
    drv.set_script_timeout(120)  # axe over a large page on a busy machine
    res = drv.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const sel = arguments.length > 1 ? arguments[0] : [];"
        "const ctx = sel.length ? {include: sel.map(s => [s])} : document;"
        "axe.run(ctx, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
        include or [])
    return [v for v in res if v["impact"] in ("serious", "critical")]


__all__ = ["By", "Keys", "new_browser", "wait", "sign_in_as", "sign_out", "axe_violations"]
