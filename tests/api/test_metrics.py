"""Operations (issue 17, API.md "Pages and operations"): GET /metrics in the Prometheus text
format 0.0.4, checked by `promtool check metrics` (Debian's prometheus package) after real
traffic; the alert rules in deploy/alerts.yml (`promtool check rules`, `promtool test rules`
with deploy/alerts_test.yml); the Grafana dashboard in deploy/grafana/ (never loaded in a real
Grafana: none can be installed here, so its JSON is checked against what Grafana imports), whose
every query (the variables' too) names only metrics a live server exposes; and X-Request-Id carried from the request into the log, the
outbox row its mail waits in, and the mail job's log line when it is sent.

promtool tests skip, saying so, only when promtool is not installed (scripts/deps.sh installs
the prometheus package with the test dependencies)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from booking_helpers import Venue, api, book, buy, hold, pay, post_cancel, post_confirm, post_hold
from catalog_helpers import make_user
from conftest import REPO, TIMEOUT
from test_jobs import query

PROMTOOL = shutil.which("promtool")
need_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus; "
    "scripts/deps.sh lists it with the test dependencies)")

DEPLOY = REPO / "deploy"
FAST_JOBS = {"JOB_TICK": "100ms", "JOB_LEASE": "2s", "JOB_INTERVAL_MAIL": "100ms"}


def scrape(server) -> str:
    r = requests.get(server.url + "/metrics", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


def series(text: str) -> dict[str, float]:
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def metric_names(text: str) -> set[str]:
    """Every name a query may use: each family's name from its TYPE line (so a family with no
    series yet counts), a histogram's _bucket, _sum and _count, and every sample's name."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def wait_until(pred, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def traffic(server) -> dict:
    """A purchase, a cancellation with its refund, a lost race for a seat, a 404 on a known
    route and a path no route knows."""
    v = Venue(server)
    a, b = make_user(server, "alice"), make_user(server, "bob")
    bought = buy(server, a.token, v.show_id, v.ids("A1", "A2"))
    taken = post_hold(server, b.token, v.show_id, seat_ids=v.ids("A1"))
    assert taken.status_code == 409, taken.text
    assert post_cancel(server, a.token, bought["id"]).status_code == 200
    assert api("GET", server, "/shows/shw_doesnotexist").status_code == 404
    assert requests.get(server.url + "/no/such/page", timeout=TIMEOUT).status_code == 404
    return {"venue": v, "booking": bought}


# --------------------------------------------------------------------------------------------
# /metrics


@need_promtool
def test_metrics_pass_promtool_and_count_what_happened(backend, make_server, tmp_path):
    server = make_server(backend, MAIL_DIR=str(tmp_path / "mail"), **FAST_JOBS)
    done = traffic(server)
    b = done["booking"]
    # the confirmation and the cancellation mailed (their runs then ended successfully)
    wait_until(lambda: series(scrape(server)).get('ticketd_mail_total{outcome="sent"}') == 2,
               what="both mails sent")
    text = scrape(server)
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", (
        check.stdout + check.stderr)

    s = series(text)
    # latency by the route table's pattern, never the raw path: no id, no unknown path
    assert s['ticketd_http_request_duration_seconds_count{method="POST",'
             'route="/api/v1/bookings/{id}/confirm",status="2xx"}'] == 1
    assert s['ticketd_http_request_duration_seconds_count{method="GET",'
             'route="/api/v1/shows/{id}",status="4xx"}'] >= 1
    assert s['ticketd_http_request_duration_seconds_count{method="any",'
             'route="unmatched",status="4xx"}'] >= 1
    assert b["id"] not in text and done["venue"].show_id not in text
    assert "/no/such/page" not in text and "shw_doesnotexist" not in text
    assert s['ticketd_handler_queue_wait_seconds_count{lane="handlers"}'] > 0
    assert s['ticketd_db_pool_wait_seconds_count{pool="primary"}'] > 0

    # business counters, counted once each, after their commits
    assert s['ticketd_holds_total{outcome="placed"}'] == 1
    assert s['ticketd_holds_total{outcome="conflict"}'] == 1
    assert s['ticketd_bookings_total{status="pending_payment"}'] == 1
    assert s['ticketd_bookings_total{status="confirmed"}'] == 1
    assert s['ticketd_bookings_total{status="cancelled_refunded"}'] == 1
    assert s['ticketd_revenue_minor_total{currency="INR"}'] == b["amount"]
    assert s['ticketd_refunds_total{outcome="processed"}'] == 1
    assert s['ticketd_mail_total{outcome="sent"}'] == 2
    assert s['ticketd_job_runs_total{job_name="mail"}'] >= 1
    assert abs(s['ticketd_job_last_success_timestamp_seconds{job_name="mail"}'] - time.time()) < 60
    assert s["ticketd_refunds_pending"] == 0 and s["ticketd_backlog_up"] == 1
    assert s["ticketd_sse_streams"] == 0 and s["ticketd_websocket_connections"] == 0


def test_check_ins_are_counted_by_outcome(backend, make_server):
    from test_checkins import near_venue, scan
    server = make_server(backend, JOBS="off")
    v = near_venue(server)
    b = buy(server, make_user(server).token, v.show_id, v.ids("A1"))
    code = b["tickets"][0]["code"]
    assert scan(server, v.theatre["id"], v.owner_token, code=code).status_code == 200
    assert scan(server, v.theatre["id"], v.owner_token, code=code).status_code == 409
    s = series(scrape(server))
    assert s['ticketd_checkins_total{outcome="admitted"}'] == 1
    assert s['ticketd_checkins_total{outcome="already_checked_in"}'] == 1


def test_outbox_backlog_is_counted(backend, make_server, tmp_path):
    """Without the jobs, a confirmed booking's mail waits: the backlog gauges show it and when
    it was queued."""
    server = make_server(backend, JOBS="off", MAIL_DIR=str(tmp_path / "mail"))
    v = Venue(server)
    before = time.time()
    buy(server, make_user(server).token, v.show_id, v.ids("B1"))
    s = series(scrape(server))
    assert s["ticketd_outbox_pending"] == 1
    assert before - 1 <= s["ticketd_outbox_oldest_pending_timestamp_seconds"] <= time.time() + 1
    assert s["ticketd_outbox_failed"] == 0


# --------------------------------------------------------------------------------------------
# Alerts and the dashboard


@need_promtool
def test_alert_rules_check_and_their_unit_tests_pass():
    check = subprocess.run([PROMTOOL, "check", "rules", str(DEPLOY / "alerts.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout, check.stdout
    run = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=DEPLOY,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout, run.stdout


def exprs_of(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for v in node.values() for e in exprs_of(v)]
    if isinstance(node, list):
        return [e for v in node for e in exprs_of(v)]
    return []


def test_dashboard_and_alerts_use_only_metrics_the_server_exposes(server):
    """Every ticketd_* name in the dashboard's queries and the alert rules is a metric a live
    server writes (so a renamed metric cannot leave a panel or an alert silently empty)."""
    names = metric_names(scrape(server))
    dashboards = sorted((DEPLOY / "grafana").glob("*.json"))
    assert dashboards, "no dashboard in deploy/grafana"
    used = {}
    for path in dashboards:
        board = json.loads(path.read_text())
        exprs = exprs_of(board.get("panels", []))
        assert len(exprs) >= 8, f"{path.name}: only {len(exprs)} queries"
        exprs += template_queries(board)  # the variables' queries too
        for e in exprs:
            for n in re.findall(r"\bticketd_[a-z0-9_]+", e):
                used.setdefault(n, path.name)
    rules = (DEPLOY / "alerts.yml").read_text()
    for n in re.findall(r"\bticketd_[a-z0-9_]+", rules):
        used.setdefault(n, "alerts.yml")
    missing = {n: where for n, where in used.items() if n not in names}
    assert not missing, f"metrics not exposed by /metrics: {missing}"


GRAFANA_PANELS = {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text",
                  "row", "state-timeline", "status-history", "barchart", "piechart", "logs"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                    "__range_ms", "__dashboard", "__from", "__to"}


def template_queries(board: dict) -> list[str]:
    """The PromQL a query variable runs: label_values(metric, label) as Grafana's Prometheus
    data source does it (a series query), written as an equivalent expression."""
    out = []
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var["query"]["query"] if isinstance(var.get("query"), dict) else var.get("query")
        m = re.fullmatch(r"label_values\((\w+)\s*,\s*(\w+)\)", q)
        assert m, f"variable {var['name']}: not label_values(metric, label): {q}"
        out.append(f"count by ({m.group(2)}) ({m.group(1)})")
    return out


def test_dashboard_has_the_shape_grafana_imports():
    """Grafana itself cannot be installed on these machines (Debian 12 does not package it and
    npm's `grafana` is a placeholder), so the dashboard is checked against what Grafana's import
    needs and what makes a panel work: a uid Grafana accepts, a schemaVersion of the Grafana 9+
    JSON model, unique panel ids, panels of core types laid out on the 24-column grid without
    overlapping, each on the `${datasource}` Prometheus variable with targets that have a
    unique refId and an expr, legends naming only labels their query keeps, and every
    $variable defined (or one of Grafana's own)."""
    board = json.loads((DEPLOY / "grafana" / "ticketd.json").read_text())
    assert isinstance(board.get("title"), str) and board["title"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board.get("uid", "")), board.get("uid")
    assert isinstance(board.get("schemaVersion"), int) and 36 <= board["schemaVersion"] <= 41
    assert "id" not in board or board["id"] is None, "an exported id breaks import elsewhere"
    assert set(board["time"]) >= {"from", "to"}
    assert isinstance(board.get("annotations", {}).get("list", []), list)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    ds = variables.get("datasource")
    assert ds and ds["type"] == "datasource" and ds["query"] == "prometheus", ds
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids), ids
    taken = set()
    for p in panels:
        where = f"panel {p['id']} ({p.get('title')})"
        assert p["type"] in GRAFANA_PANELS, where
        assert isinstance(p.get("title"), str) and p["title"], where
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "hwxy"), where
        assert g["h"] > 0 and 0 < g["w"] <= 24 and 0 <= g["x"] and g["x"] + g["w"] <= 24, where
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                 for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & taken, f"{where} overlaps another panel"
        taken |= cells
        if p["type"] in ("row", "text"):
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        targets = p["targets"]
        assert targets, where
        refs = [t["refId"] for t in targets]
        assert len(set(refs)) == len(refs), where
        for t in targets:
            assert t.get("datasource", p["datasource"]) == p["datasource"], where
            assert isinstance(t.get("expr"), str) and t["expr"].strip(), where
            for name in re.findall(r"\$\{?(\w+)", t["expr"]):
                assert name in variables or name in GRAFANA_BUILTINS, f"{where}: ${name}"
            kept = set()
            for group in re.findall(r"\bby\s*\(([^)]*)\)", t["expr"]):
                kept |= {x.strip() for x in group.split(",") if x.strip()}
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")):
                assert label in kept or "by" not in t["expr"], \
                    f"{where}: legend {{{{{label}}}}} names a label the query drops"


@need_promtool
def test_dashboard_queries_are_valid_promql(tmp_path):
    """Each panel query, with Grafana's variables filled in, parses: promtool checks them as the
    expressions of recording rules."""
    board = json.loads((DEPLOY / "grafana" / "ticketd.json").read_text())
    exprs = exprs_of(board["panels"]) + template_queries(board)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}",
         "expr": e.replace("$__rate_interval", "5m").replace("$job", "ticketd")}
        for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    check = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in check.stdout, check.stdout


# --------------------------------------------------------------------------------------------
# X-Request-Id


def log_lines(server) -> list[dict]:
    out = []
    for line in server.stderr_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_request_id_reaches_log_outbox_and_mail_job(backend, make_server, tmp_path):
    """A client's X-Request-Id on the confirm is in its access-log line, in the outbox row of
    the confirmation mail, and in the mail job's line when that mail is sent; the job run's
    own lines carry the run's id."""
    server = make_server(backend, MAIL_DIR=str(tmp_path / "mail"), LOG_LEVEL="debug",
                         **FAST_JOBS)
    v = Venue(server)
    user = make_user(server)
    h = hold(server, user.token, v.show_id, seat_ids=v.ids("C1"))
    body = book(server, user.token, h["hold_id"])
    p = pay(server, user.token, body["payment"]["order_id"])
    rid = "trace-7f3a.issue17_ok"
    r = post_confirm(server, user.token, body["booking"]["id"], p, headers={"X-Request-Id": rid})
    assert r.status_code == 200 and r.headers["X-Request-Id"] == rid, r.text
    booking_id = body["booking"]["id"]

    rows = query(server.database_url, "SELECT data FROM mail_outbox WHERE ref_id = "
                 f"'{booking_id}' AND kind = 'booking_confirmed'")
    assert len(rows) == 1 and json.loads(rows[0][0])["request_id"] == rid, rows

    def sent_line():
        return [x for x in log_lines(server)
                if x.get("msg", "").startswith("mail booking_confirmed sent")
                and x.get("rid") == rid]
    wait_until(sent_line, what="the mail job's line with the request's id")
    # The access-log line is written once the answer has gone out (MHD's completion callback),
    # and the mail job may send (and log) the mail before that: waited for, not read at once.
    wait_until(lambda: [x for x in log_lines(server)
                        if x.get("msg") == "request" and x.get("rid") == rid],
               what="the confirm's access-log line")
    access = [x for x in log_lines(server) if x.get("msg") == "request" and x.get("rid") == rid]
    assert len(access) == 1 and access[0]["path"].endswith("/confirm"), access
    runs = [x for x in log_lines(server) if x.get("msg") == "job run" and x.get("job") == "mail"]
    assert runs and all(x["rid"] == x["run_id"] for x in runs), runs  # the run's own id
    # A request without an id gets one of its own, never one left over on the thread.
    r = api("GET", server, "/movies")
    assert r.headers["X-Request-Id"] != rid and re.fullmatch(r"[0-9a-f]{24}",
                                                              r.headers["X-Request-Id"])


def test_bad_request_ids_are_replaced(server):
    """An id with characters outside [A-Za-z0-9._-] or longer than 64 cannot reach the log or
    the outbox: the server answers with an id of its own."""
    for bad in ["a b", "x" * 65, 'q"uote', "semi;colon"]:
        r = requests.get(server.url + "/healthz", headers={"X-Request-Id": bad}, timeout=TIMEOUT)
        assert r.status_code == 200
        assert r.headers["X-Request-Id"] != bad
        assert re.fullmatch(r"[0-9a-f]{24}", r.headers["X-Request-Id"]), r.headers
