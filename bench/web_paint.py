#!/usr/bin/env python3
"""Time to the first seat-map paint of the web app on a 2,000-seat hall, in headless chromium.

Starts the release server (TICKETD_BIN, default build/ticketd) on a throwaway SQLite file, makes
a show in a hall of 40 rows x 50 seats, and loads /shows/{id} RUNS times in one browser (the
first load cold, the rest with the browser's cache revalidating by ETag). For each load it reads
the page's own Performance API mark "seatmap-painted" (web/show.js: two animation frames after
the 2,000 seat buttons were built), and the navigation's responseEnd, DOMContentLoaded and
first-contentful-paint, all in ms since navigation start. Prints a table and appends it to
bench/results/<date>-web.txt.

    /usr/bin/python3 bench/web_paint.py [RUNS]
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
import conftest as web  # noqa: E402  (the browser tests' helpers and the API suite's)
from booking_helpers import Venue, starts_in  # noqa: E402

LAYOUT = {"rows": [{"label": (chr(65 + i // 26) if i >= 26 else "") + chr(65 + i % 26),
                    "seats": 50, "category": "premium" if i < 8 else "regular",
                    "gaps_after": [10, 40]} for i in range(40)]}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="web-paint-"))
    srv = web.Server("sqlite", f"sqlite://{tmp / 't.db'}", tmp, WEB_DIR=str(REPO / "web"))
    srv.start()
    drv = None
    try:
        v = Venue(srv, layout=LAYOUT, prices={"premium": 40000, "regular": 25000},
                  starts_at=starts_in(24))
        assert len(v.by_label) == 2000, len(v.by_label)
        drv = web.new_browser(1280, 900)
        rows = []
        for i in range(runs):
            drv.get(f"{srv.url}/shows/{v.show_id}")
            web.wait(drv, lambda d: d.execute_script("return window.tixSeatmapPaintMs"), 30)
            rows.append(drv.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "const fcp = performance.getEntriesByName('first-contentful-paint')[0];"
                "return {paint: window.tixSeatmapPaintMs, response: n.responseEnd,"
                " dcl: n.domContentLoadedEventEnd, fcp: fcp ? fcp.startTime : null,"
                " seats: document.querySelectorAll('button.seat').length,"
                " data: performance.getEntriesByName('seatmap-data')[0].startTime,"
                " built: performance.getEntriesByName('seatmap-built')[0].startTime};"))
        assert all(r["seats"] == 2000 for r in rows), rows
    finally:
        if drv:
            drv.quit()
        srv.stop()
    cpu = os.cpu_count()
    lines = [f"# {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: web app, time to the first "
             f"seat-map paint, 2,000-seat hall (40 x 50), headless chromium 1280x900, "
             f"{runs} loads, SQLite, {cpu} CPUs, load average {load:.1f} at the start",
             "load  first-contentful-paint  seats-json-in  map-built  seat-map-painted  DOMContentLoaded  html-responseEnd  (ms)"]
    for i, r in enumerate(rows):
        lines.append(f"{i + 1:>4}  {r['fcp'] or 0:>22.0f}  {r['data']:>13.0f}  {r['built']:>9.0f}  "
                     f"{r['paint']:>16.0f}  {r['dcl']:>16.0f}  "
                     f"{r['response']:>16.1f}")
    warm = [r["paint"] for r in rows[1:]] or [rows[0]["paint"]]
    lines.append(f"cold (first load): {rows[0]['paint']:.0f} ms to the painted seat map; warm "
                 f"median {statistics.median(warm):.0f} ms, max {max(warm):.0f} ms")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = REPO / "bench" / "results" / f"{dt.date.today().isoformat()}-web.txt"
    with open(out, "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
