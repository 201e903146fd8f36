"""The door page's camera path (web/door.js: getUserMedia + BarcodeDetector) in headless
chromium with a fake camera that films a real ticket's QR code.

- The camera: chromium's fake capture device (--use-fake-device-for-media-stream, permission
  granted by --use-fake-ui-for-media-stream) playing a .y4m file made here from the ticket's
  own QR code (GET /tickets/{id}/qr.png, decoded to pixels by the browser, written as YUV 4:2:0
  frames; no ffmpeg or qrencode needed).
- The detector: headless chromium on Linux has no BarcodeDetector (the Shape Detection API
  exists on macOS, ChromeOS and Android only). Only then, and only in this test, a stand-in is
  injected before the page's scripts (CDP Page.addScriptToEvaluateOnNewDocument; never served
  by ticketd): a BarcodeDetector whose detect(video) draws the video frame to a canvas and
  decodes it with jsQR (tests/browser/vendor, npm). So the frames really are decoded; what
  this tests is the page's wiring (camera, frames, detector, check-in, verdict), not chromium's
  own detector. `window.tixTestBarcodePolyfill` says which one ran; the test prints it.
- The ticket must be admitted exactly once, although the camera keeps seeing the same code.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from booking_helpers import buy
from catalog_helpers import ok
from conftest import By, call, new_browser, sign_in_as, wait
from test_web_app import World

VENDOR = Path(__file__).resolve().parent / "vendor"
W, H = 640, 480

POLYFILL = """
if (!('BarcodeDetector' in window)) {
  /* TEST ONLY (tests/browser/test_door_camera.py): decodes the video frame with jsQR. */
  window.tixTestBarcodePolyfill = true;
  window.tixTestDetections = 0;
  window.BarcodeDetector = class {
    constructor(opts) { this.formats = (opts && opts.formats) || ['qr_code']; }
    static async getSupportedFormats() { return ['qr_code']; }
    async detect(video) {
      const w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) return [];
      const c = document.createElement('canvas');
      c.width = w; c.height = h;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(video, 0, 0, w, h);
      const found = jsQR(g.getImageData(0, 0, w, h).data, w, h);
      window.tixTestDetections++;
      return found ? [{ rawValue: found.data, format: 'qr_code' }] : [];
    }
  };
}
"""


def qr_gray(drv, png: bytes) -> tuple[int, int, list[int]]:
    """The PNG's pixels as 8-bit gray, decoded by the browser: (width, height, pixels)."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    w, h, gray = drv.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const img = new Image();
        img.onload = () => {
          const c = document.createElement('canvas');
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext('2d');
          g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
          g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          let gray = '';
          for (let i = 0; i < d.length; i += 4) gray += String.fromCharCode(Math.round((d[i] + d[i + 1] + d[i + 2]) / 3));
          done([c.width, c.height, btoa(gray)]);
        };
        img.onerror = () => done([0, 0, '']);
        img.src = arguments[0];""", url)
    return w, h, list(base64.b64decode(gray))


def write_y4m(path: Path, w: int, h: int, gray: list[int], frames: int = 10) -> None:
    """A W x H 4:2:0 video of the QR image (resampled, nearest pixel, to a 400 x 400 square)
    centred on white."""
    side = 400
    ox, oy = (W - side) // 2, (H - side) // 2
    y = bytearray(b"\xeb" * (W * H))  # white (video range)
    for r in range(side):
        src = (r * h // side) * w
        line = bytes(16 + gray[src + c * w // side] * 219 // 255 for c in range(side))
        start = (oy + r) * W + ox
        y[start:start + side] = line
    chroma = b"\x80" * ((W // 2) * (H // 2))
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + bytes(y) + chroma + chroma)


@pytest.fixture(scope="module")
def world(web_server):
    return World(web_server)


def test_the_door_camera_admits_a_ticket_once(web_server, browser, world, tmp_path):
    srv = web_server
    user = world.new_user()
    bk = buy(srv, user["access_token"], world.show_id, world.venue.ids("B7"))
    ticket = bk["tickets"][0]
    png = call("GET", srv, f"/tickets/{ticket['id']}/qr.png", token=world.owner["access_token"])
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png", png.text[:200]
    browser.get(srv.url + "/web/app.css")
    t0 = time.monotonic()
    w, h, gray = qr_gray(browser, png.content)
    print(f"qr_gray {w}x{h} {time.monotonic() - t0:.1f}s")
    assert w > 20 and len(gray) == w * h, (w, h)
    video = tmp_path / "ticket.y4m"
    write_y4m(video, w, h, gray)

    cam = new_browser(extra_args=["--use-fake-device-for-media-stream",
                                  "--use-fake-ui-for-media-stream",
                                  f"--use-file-for-fake-video-capture={video}"])
    try:
        native = cam.execute_script("return 'BarcodeDetector' in window")
        if not native:
            cam.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                {"source": (VENDOR / "jsQR.js").read_text() + POLYFILL})
        print(f"BarcodeDetector: {'chromium' if native else 'test stand-in (jsQR)'}")
        sign_in_as(cam, srv, world.owner)
        cam.get(srv.url + "/door")
        theatre_id = world.venue.theatre["id"]
        wait(cam, lambda d: d.find_elements(By.CSS_SELECTOR,
                                            f'#theatre option[value="{theatre_id}"]'))
        cam.execute_script("const s = document.getElementById('theatre'); s.value = arguments[0];"
                           "s.dispatchEvent(new Event('change'));", theatre_id)
        button = cam.find_element(By.ID, "camera")
        assert button.is_displayed(), cam.find_element(By.ID, "cam-note").text
        button.click()
        t0 = time.monotonic()
        verdict = cam.find_element(By.ID, "verdict")
        try:
            wait(cam, lambda d: "Admitted" in verdict.text, timeout=20)
        except Exception:
            diag = cam.execute_script(
                "const v = document.getElementById('video'); return {verdict: "
                "document.getElementById('verdict').textContent, note: "
                "document.getElementById('cam-note').textContent, w: v.videoWidth, "
                "h: v.videoHeight, detections: window.tixTestDetections, "
                "polyfill: window.tixTestBarcodePolyfill, jsqr: typeof jsQR}")
            pytest.fail(f"the camera's QR code was not admitted: {diag} "
                        f"{cam.get_log('browser')}")
        assert "B7" in verdict.text
        print(f"admitted after {time.monotonic() - t0:.1f}s")
        assert cam.find_element(By.ID, "video").is_displayed()
        # the camera keeps seeing the same code: no second check-in, no "already checked in"
        if not native:
            seen = cam.execute_script("return window.tixTestDetections")
            wait(cam, lambda d: d.execute_script("return window.tixTestDetections") > seen + 10,
                 what="the page stopped reading frames")
        time.sleep(0.5)
        assert "Admitted" in verdict.text, verdict.text
        counts = ok(call("GET", srv, f"/shows/{world.show_id}/check-ins",
                         token=world.owner["access_token"]), 200)
        assert counts["counts"]["admitted"] == 1, counts
        assert [k["seat_label"] for k in counts["items"]] == ["B7"], counts
    finally:
        cam.quit()
