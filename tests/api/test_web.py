"""The web app's files (src/http/static.c, src/api/web_api.c): every page and asset with its
Content-Type, a Content-Security-Policy, ETag revalidation and gzip; no name outside WEB_DIR
(.., encoded slashes, hidden files, symlinks) is ever served. The pages themselves are tested
in a real browser by tests/browser."""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
from pathlib import Path

import pytest
import requests

from conftest import REPO, TIMEOUT

PAGES = ["/", "/shows/shw_x", "/bookings/bkg_x", "/door", "/sales", "/docs", "/graphiql"]


def get(server, path: str, **headers) -> requests.Response:
    return requests.get(server.url + path, headers=headers, timeout=TIMEOUT)


def test_every_page_is_html_with_a_csp(server):
    for path in PAGES:
        r = get(server, path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert r.headers["Content-Type"] == "text/html; charset=utf-8", path
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
        assert "script-src" not in csp or "'unsafe-inline'" not in csp.split("script-src")[1], csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-cache"
        assert "<script>" not in r.text, "inline script: the CSP forbids it"


def test_assets_have_their_types(server):
    want = {"/web/app.css": "text/css; charset=utf-8",
            "/web/app.js": "text/javascript; charset=utf-8",
            "/web/vendor/redoc.standalone.js": "text/javascript; charset=utf-8",
            "/web/vendor/redoc.LICENSE.txt": "text/plain; charset=utf-8",
            "/web/graphiql.js": "text/javascript; charset=utf-8",
            "/web/graphiql.css": "text/css; charset=utf-8",
            "/web/vendor/graphiql.min.js": "text/javascript; charset=utf-8",
            "/web/vendor/graphiql.min.css": "text/css; charset=utf-8",
            "/web/vendor/react.production.min.js": "text/javascript; charset=utf-8",
            "/web/vendor/react-dom.production.min.js": "text/javascript; charset=utf-8",
            "/web/vendor/graphiql.LICENSE.txt": "text/plain; charset=utf-8",
            "/web/vendor/react.LICENSE.txt": "text/plain; charset=utf-8",
            "/web/vendor/react-dom.LICENSE.txt": "text/plain; charset=utf-8",
            "/docs/openapi.yaml": "application/yaml; charset=utf-8"}
    for path, ctype in want.items():
        r = get(server, path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == ctype, path
    assert get(server, "/docs/openapi.yaml").text == (REPO / "docs" / "openapi.yaml").read_text()


def test_etag_revalidation_and_gzip(server):
    plain = get(server, "/web/app.js", **{"Accept-Encoding": "identity"})
    etag = plain.headers["ETag"]
    assert etag.startswith('"') and "Content-Encoding" not in plain.headers
    assert plain.content == (REPO / "web" / "app.js").read_bytes()
    again = get(server, "/web/app.js", **{"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b""
    assert get(server, "/web/app.js", **{"If-None-Match": 'W/"other"'}).status_code == 200
    raw = requests.get(server.url + "/web/app.js", headers={"Accept-Encoding": "gzip"},
                       timeout=TIMEOUT, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert raw.headers["Vary"] == "Accept-Encoding"
    assert raw.headers["ETag"] != etag  # another representation, another tag
    assert gzip.decompress(raw.raw.read()) == plain.content
    assert get(server, "/web/app.js", **{"If-None-Match": raw.headers["ETag"],
                                        "Accept-Encoding": "gzip"}).status_code == 304


BAD = ["/web/..%2f..%2fdocs%2fopenapi.yaml", "/web/%2e%2e%2fCMakeLists.txt", "/web/.hidden.js",
       "/web/vendor/..%2fapp.js", "/web/app.js%00.css", "/web/app.c",
       "/web/vendor/%2e%2e%2f%2e%2e%2fREADME.txt", "/web/" + "a" * 200 + ".js",
       "/docs/openapi.yaml%2f..%2f..%2fREADME.md", "/web/%252e%252e%252fapp.js"]


def raw_get(server, path: str) -> tuple[int, str, bytes]:
    """GET with the path sent exactly as written (requests would remove dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


def test_no_path_traversal(server):
    for path in BAD + ["/web/..", "/web/../docs/openapi.yaml", "/web/vendor/../../README.md",
                       "/web/./app.js/../../CMakeLists.txt"]:
        status, ctype, body = raw_get(server, path)
        assert status in (400, 404), (path, status, body[:200])
        assert ctype.startswith("application/json"), path
        assert b"project(" not in body and b"openapi:" not in body, path


def test_symlinks_and_other_files_are_not_served(make_server, tmp_path):
    web = tmp_path / "web"
    shutil.copytree(REPO / "web", web, ignore=shutil.ignore_patterns("vendor"))
    (web / "vendor").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    os.symlink(secret, web / "evil.txt")
    os.symlink(secret, web / "vendor" / "evil.txt")
    (web / "dir.js").mkdir()
    (web / "notes.md").write_text("md is not a served type")
    srv = make_server("sqlite", WEB_DIR=str(web))
    for path in ["/web/evil.txt", "/web/vendor/evil.txt", "/web/dir.js", "/web/notes.md"]:
        r = get(srv, path)
        assert r.status_code == 404, (path, r.status_code)
        assert "not for the web" not in r.text
    assert get(srv, "/web/app.css").status_code == 200
    (web / "index.html").unlink()
    r = get(srv, "/")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_openapi_has_no_duplicate_keys():
    """/docs renders docs/openapi.yaml with Redoc, whose YAML parser refuses a duplicated key
    (PyYAML keeps the last one silently, so the contract tests never saw it)."""
    import yaml
    from yaml.constructor import SafeConstructor

    dups = []

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for k, _ in node.value:
            key = loader.construct_object(k)
            if key in seen:
                dups.append((key, k.start_mark.line + 1))
            seen.add(key)
        return SafeConstructor.construct_mapping(loader, node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    yaml.load((REPO / "docs" / "openapi.yaml").read_text(), Loader=Strict)
    assert dups == [], f"duplicated keys (key, line) in docs/openapi.yaml: {dups}"
