"""/graphiql in a real browser (headless chromium): GraphiQL (web/vendor, from npm) loads from
this origin under the page's Content-Security-Policy with no violation, runs a query against
/api/v1/graphql, and runs `me` as the web app's signed-in user."""

from __future__ import annotations

import json

from booking_helpers import Venue
from conftest import By, login, register, sign_in_as, sign_out, unique_email, wait

# Records every CSP violation from the first byte of each page on (the page's own scripts come
# too late to see their own blocked loads).
WATCH_CSP = ("window.__csp = [];"
             "document.addEventListener('securitypolicyviolation', e =>"
             " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def run_query(drv, query: str) -> dict:
    """Types query into GraphiQL's editor, presses its run button, returns the shown result."""
    drv.execute_script(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
        ".setValue(arguments[0]);", query)
    drv.execute_script("document.querySelector('.graphiql-response .CodeMirror')"
                       ".CodeMirror.setValue('');")
    drv.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    text = wait(drv, lambda d: d.execute_script(
        "return document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"),
        timeout=20, what="GraphiQL showed no result")
    return json.loads(text)


def test_graphiql_runs_queries_under_its_csp(web_server, browser):
    srv, drv = web_server, browser
    venue = Venue(srv)
    drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})
    sign_out(drv, srv)
    drv.get(srv.url + "/graphiql")
    wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror"),
         timeout=30, what="GraphiQL did not render")
    got = run_query(drv, '{ show(id: "%s") { id movie { title } } }' % venue.show_id)
    assert got == {"data": {"show": {"id": venue.show_id,
                                     "movie": {"title": venue.movie["title"]}}}}, got
    got = run_query(drv, "{ me { id } }")
    assert got["data"] == {"me": None}, got
    assert [e["extensions"]["code"] for e in got["errors"]] == ["unauthorized"], got
    # signed in through the web app: the page lends its token
    email = unique_email("graphiql")
    user_id = register(srv, email=email)["user"]["id"]
    sign_in_as(drv, srv, login(srv, email))
    drv.get(srv.url + "/graphiql")
    wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror"),
         timeout=30, what="GraphiQL did not render")
    got = run_query(drv, "{ me { id email } }")
    assert got == {"data": {"me": {"id": user_id, "email": email}}}, got
    assert drv.execute_script("return window.__csp") == [], "the CSP blocked part of GraphiQL"
