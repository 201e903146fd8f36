"""
A local stand-in for Cloudinary's Upload API, for testing ticketd's Cloudinary client without the
network. It checks every request the way Cloudinary does and answers with Cloudinary's shapes:

  POST /v1_1/<cloud_name>/<image|video|raw|auto>/upload   multipart/form-data
       file (a file part), api_key, timestamp, signature, optional public_id, ...
  POST /v1_1/<cloud_name>/<image|video|raw>/destroy       public_id, timestamp, api_key,
       signature, optional invalidate

Checks: the cloud name, the api_key, the timestamp (digits, within one hour), the signature
(hex SHA-1 of every parameter except file, cloud_name, resource_type and api_key, sorted by name,
joined as k=v with '&', the API secret appended), and the required parameters. Errors use
Cloudinary's shape {"error": {"message": "..."}}: a bad signature is HTTP 401 "Invalid Signature
<sig>. String to sign - '<string>'.".

Use it in-process (tests): `with CloudinaryStandin("demo", "1234", "secret") as c: c.base ...`;
everything it saw is in c.uploads, c.destroys and c.rejected. Or run it alone:
    python3 tests/api/cloudinary_standin.py --cloud demo --key 1234 --secret s3cr3t [--port N]
which prints the CLOUDINARY_URL and CLOUDINARY_API_BASE to give ticketd. Standard library only.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import struct
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXCLUDED_FROM_SIGNATURE = {"file", "cloud_name", "resource_type", "api_key", "signature"}
MAX_BODY = 300 * 1024 * 1024
SIGNATURE_VALID_S = 3600

_FORMATS = [  # (magic test, format, resource type)
    (lambda b: b[:3] == b"\xff\xd8\xff", "jpg", "image"),
    (lambda b: b[:8] == b"\x89PNG\r\n\x1a\n", "png", "image"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", "webp", "image"),
    (lambda b: b[4:8] == b"ftyp", "mp4", "video"),
    (lambda b: b[:4] == b"\x1a\x45\xdf\xa3", "webm", "video"),
]


def string_to_sign(params: dict) -> str:
    items = sorted((k, v) for k, v in params.items()
                   if k not in EXCLUDED_FROM_SIGNATURE and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def sign(params: dict, secret: str) -> str:
    return hashlib.sha1((string_to_sign(params) + secret).encode()).hexdigest()


def detect(data: bytes) -> tuple[str | None, str | None]:
    for test, fmt, rtype in _FORMATS:
        if test(data):
            return fmt, rtype
    return None, None


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return 1, 1


class _Reject(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def parse_multipart(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Returns (fields: name -> str, files: name -> (filename, content_type, bytes))."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise _Reject(400, "Unsupported content type - expected multipart/form-data")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise _Reject(400, "Invalid multipart body")
    fields, files = {}, {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise _Reject(400, "Invalid multipart body - a part has no name")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files


class CloudinaryStandin:
    """The stand-in server on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, cloud_name: str, api_key: str, api_secret: str, port: int = 0):
        self.cloud_name, self.api_key, self.api_secret = cloud_name, api_key, api_secret
        self.lock = threading.Lock()
        self.uploads: list[dict] = []   # accepted uploads, with their file bytes
        self.destroys: list[dict] = []  # accepted destroys
        self.rejected: list[dict] = []  # requests answered with an error
        self.assets: dict[str, dict] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ---- life cycle
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base(self) -> str:
        """The CLOUDINARY_API_BASE to give ticketd."""
        return f"http://127.0.0.1:{self.port}/v1_1"

    def cloudinary_url(self, secret: str | None = None) -> str:
        return f"cloudinary://{self.api_key}:{secret or self.api_secret}@{self.cloud_name}"

    def start(self) -> "CloudinaryStandin":
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops and closes the socket: later connections are refused."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- request handling
    def _check_auth(self, params: dict, required: tuple[str, ...]) -> None:
        for name in ("api_key", "timestamp", "signature", *required):
            if not params.get(name):
                raise _Reject(400, f"Missing required parameter - {name}")
        if params["api_key"] != self.api_key:
            raise _Reject(401, f"Unknown API key {params['api_key']}")
        if not re.fullmatch(r"\d{1,12}", params["timestamp"]):
            raise _Reject(400, "Invalid timestamp - must be a UNIX time in seconds")
        if abs(time.time() - int(params["timestamp"])) > SIGNATURE_VALID_S:
            raise _Reject(400, f"Stale request - reported time is {params['timestamp']} which is "
                               "more than 1 hour ago")
        expected = sign(params, self.api_secret)
        if not re.fullmatch(r"[0-9a-f]{40}", params["signature"]) or \
                not hmac.compare_digest(expected, params["signature"]):
            raise _Reject(401, f"Invalid Signature {params['signature']}. String to sign - "
                               f"'{string_to_sign(params)}'.")

    def _upload(self, rtype: str, fields: dict, files: dict) -> dict:
        if "file" not in files:
            raise _Reject(400, "Missing required parameter - file")
        self._check_auth(fields, ())
        filename, _, data = files["file"]
        fmt, detected = detect(data)
        if fmt is None:
            raise _Reject(400, "Invalid image file" if rtype == "image" else "Invalid video file")
        if rtype not in ("auto", detected):
            raise _Reject(400, f"Invalid {rtype} file")
        public_id = fields.get("public_id") or uuid.uuid4().hex[:20]
        version = int(time.time())
        width, height = png_size(data)
        path = f"{detected}/upload/v{version}/{public_id}.{fmt}"
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        resp = {
            "asset_id": uuid.uuid4().hex, "public_id": public_id, "version": version,
            "version_id": uuid.uuid4().hex,
            "signature": hashlib.sha1(f"public_id={public_id}&version={version}"
                                      f"{self.api_secret}".encode()).hexdigest(),
            "width": width, "height": height, "format": fmt, "resource_type": detected,
            "created_at": created, "tags": [], "bytes": len(data), "type": "upload",
            "etag": hashlib.md5(data).hexdigest(), "placeholder": False,
            "url": f"http://res.cloudinary.com/{self.cloud_name}/{path}",
            "secure_url": f"https://res.cloudinary.com/{self.cloud_name}/{path}",
            "folder": public_id.rpartition("/")[0], "api_key": self.api_key,
            "original_filename": filename.rsplit(".", 1)[0],
        }
        if detected == "video":
            resp.update(duration=1.0, bit_rate=0, frame_rate=25, playback_url=resp["secure_url"])
        with self.lock:
            self.assets[public_id] = {"resource_type": detected, "response": resp}
            self.uploads.append({"resource_type": rtype, "fields": dict(fields),
                                 "filename": filename, "data": data, "response": resp})
        return resp

    def _destroy(self, rtype: str, fields: dict) -> dict:
        self._check_auth(fields, ("public_id",))
        pid = fields["public_id"]
        with self.lock:
            asset = self.assets.get(pid)
            found = asset is not None and asset["resource_type"] == rtype
            if found:
                del self.assets[pid]
            self.destroys.append({"resource_type": rtype, "fields": dict(fields),
                                  "result": "ok" if found else "not found"})
        return {"result": "ok" if found else "not found"}

    def _handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict]:
        m = re.fullmatch(r"/v1_1/([^/]+)/([^/]+)/(upload|destroy)", path)
        if m is None:
            return 404, {"error": {"message": "Resource not found - " + path}}
        cloud, rtype, action = m.groups()
        try:
            if cloud != self.cloud_name:
                raise _Reject(401, f"Invalid cloud_name {cloud}")
            if rtype not in ("image", "video", "raw", "auto") or \
                    (action == "destroy" and rtype == "auto"):
                raise _Reject(400, f"Invalid resource type {rtype}")
            fields, files = parse_multipart(content_type, body)
            if action == "upload":
                return 200, self._upload(rtype, fields, files)
            return 200, self._destroy(rtype, fields)
        except _Reject as e:
            with self.lock:
                self.rejected.append({"path": path, "status": e.status, "message": e.message})
            return e.status, {"error": {"message": e.message}}

    def _handler_class(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding") or length > MAX_BODY:
                    status, body = 413, {"error": {"message": "File size too large"}}
                else:
                    data = self.rfile.read(length)
                    status, body = standin._handle(self.path, self.headers.get("Content-Type", ""),
                                                   data)
                out = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cloud", default="demo")
    ap.add_argument("--key", default="123456789012345")
    ap.add_argument("--secret", default="standin-secret")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    s = CloudinaryStandin(args.cloud, args.key, args.secret, args.port)
    print(f"CLOUDINARY_URL={s.cloudinary_url()}\nCLOUDINARY_API_BASE={s.base}", flush=True)
    try:
        s._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        s._httpd.server_close()


if __name__ == "__main__":
    main()
