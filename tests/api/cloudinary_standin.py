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
<sig>. String to sign - '<string>'.". A file above max_file_bytes (100 MiB, as Cloudinary's
per-request limit) in one request is HTTP 400 "File size too large. ...".

Chunked uploads (Cloudinary's guidelines for self-implemented chunked upload): every chunk is an
ordinary signed upload request with the headers X-Unique-Upload-Id (the same for every chunk of
one file) and Content-Range "bytes <first>-<last>/<total>". Checked per chunk: the signature,
the same upload id, public_id and resource type as the first chunk, a well-formed range that
starts where the previous chunk ended (a repeat of the previous range, a retry, replaces it),
the same total, a file part exactly as long as the range, and at least MIN_CHUNK bytes unless
it is the last. Earlier chunks are answered {"done": false, "bytes": <received>, ...}; the last
assembles the file (which must then be whole) and is answered with the resource, as a
single upload. Partial uploads are in c.partials; every chunk request is in c.chunks.
c.hold() makes upload requests wait (body read, no answer; c.held counts them) until
c.release(). c.fail_chunk(index, times, status) makes the stand-in answer the index-th chunk (0-based) of
the next chunked uploads with a 5xx, times times, before looking at it.

Connections are kept alive (HTTP/1.1) like Cloudinary's: c.connections counts the TCP
connections accepted so far and c.requests the requests answered (fewer connections than
requests means connections were reused).

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
import socket
import struct
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXCLUDED_FROM_SIGNATURE = {"file", "cloud_name", "resource_type", "api_key", "signature"}
MAX_BODY = 300 * 1024 * 1024
MAX_FILE = 100 * 1024 * 1024  # Cloudinary's limit on one upload request
MIN_CHUNK = 5 * 1024 * 1024   # every chunk but the last
SIGNATURE_VALID_S = 3600
CONTENT_RANGE = re.compile(r"bytes (\d{1,15})-(\d{1,15})/(\d{1,15})")

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


_PARAM = re.compile(r';\s*([a-zA-Z_-]+)="([^"]*)"')


def parse_multipart(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Returns (fields: name -> str, files: name -> (filename, content_type, bytes)). A strict
    byte-level parser (fast on large bodies): parts separated by the boundary, each with a
    Content-Disposition: form-data header."""
    m = re.match(r'multipart/form-data\s*;.*boundary="?([^";]+)"?', content_type, re.I)
    if m is None:
        raise _Reject(400, "Unsupported content type - expected multipart/form-data")
    delim = b"--" + m.group(1).encode("latin-1")
    if not body.startswith(delim + b"\r\n"):
        raise _Reject(400, "Invalid multipart body")
    fields, files = {}, {}
    pos = len(delim) + 2
    while True:
        end = body.find(b"\r\n" + delim, pos)
        if end < 0:
            raise _Reject(400, "Invalid multipart body - no closing boundary")
        head_end = body.find(b"\r\n\r\n", pos, end)
        if head_end < 0:
            raise _Reject(400, "Invalid multipart body - a part has no headers")
        headers = {}
        for line in body[pos:head_end].decode("utf-8").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disp = headers.get("content-disposition", "")
        params = dict(_PARAM.findall(disp))
        if not disp.lower().startswith("form-data") or not params.get("name"):
            raise _Reject(400, "Invalid multipart body - a part has no name")
        payload = body[head_end + 4:end]
        if "filename" in params:
            files[params["name"]] = (params["filename"],
                                     headers.get("content-type", "application/octet-stream"),
                                     payload)
        else:
            fields[params["name"]] = payload.decode("utf-8")
        pos = end + 2 + len(delim)
        if body[pos:pos + 2] == b"--":
            return fields, files
        if body[pos:pos + 2] != b"\r\n":
            raise _Reject(400, "Invalid multipart body")
        pos += 2


class CloudinaryStandin:
    """The stand-in server on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, cloud_name: str, api_key: str, api_secret: str, port: int = 0):
        self.cloud_name, self.api_key, self.api_secret = cloud_name, api_key, api_secret
        self.lock = threading.Lock()
        self.uploads: list[dict] = []   # accepted uploads, with their file bytes
        self.destroys: list[dict] = []  # accepted destroys
        self.rejected: list[dict] = []  # requests answered with an error
        self.assets: dict[str, dict] = {}
        self.max_file_bytes = MAX_FILE
        self.chunks: list[dict] = []         # every chunk request, with its answer's status
        self.partials: dict[str, dict] = {}  # chunked uploads in progress, by upload id
        self._failures: dict[int, list] = {}  # chunk index -> [times left, status]
        self.connections = 0  # TCP connections accepted (keep-alive makes this < requests)
        self.requests = 0     # requests answered
        self.open_conns: set[socket.socket] = set()
        self._gate: threading.Event | None = None  # set by hold(): uploads wait on it
        self.held = 0  # upload requests waiting at the gate now
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
        """Stops and closes the socket: later connections are refused, and kept-alive ones
        are closed (as a server that goes away does)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()
        with self.lock:
            conns = list(self.open_conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def fail_chunk(self, index: int, times: int = 1, status: int = 502) -> None:
        """Answers the index-th chunk (0-based) of chunked uploads with status, times times."""
        with self.lock:
            self._failures[index] = [times, status]

    def hold(self) -> None:
        """Upload requests (not destroys) wait, body read and unanswered, until release()."""
        with self.lock:
            self._gate = threading.Event()

    def release(self) -> None:
        with self.lock:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def _wait_at_gate(self, path: str) -> None:
        with self.lock:
            gate = self._gate if path.endswith("/upload") else None
            if gate is not None:
                self.held += 1
        if gate is not None:
            gate.wait(120)  # a test that forgot release() does not hang for ever
            with self.lock:
                self.held -= 1

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
        if len(data) > self.max_file_bytes:
            raise _Reject(400, f"File size too large. Got {len(data)}. Maximum is "
                               f"{self.max_file_bytes}.")
        return self._store(rtype, fields, filename, data)

    def _chunk(self, rtype: str, headers, fields: dict, files: dict) -> dict:
        upload_id, content_range = headers.get("X-Unique-Upload-Id"), headers.get("Content-Range")
        if not upload_id or not content_range:
            raise _Reject(400, "Chunked upload needs both X-Unique-Upload-Id and Content-Range")
        m = CONTENT_RANGE.fullmatch(content_range)
        if m is None:
            raise _Reject(400, f"Invalid Content-Range header - {content_range}")
        first, last, total = map(int, m.groups())
        if "file" not in files:
            raise _Reject(400, "Missing required parameter - file")
        self._check_auth(fields, ())
        filename, _, data = files["file"]
        if not first <= last < total or len(data) != last - first + 1:
            raise _Reject(400, f"Invalid Content-Range {content_range} for a chunk of "
                               f"{len(data)} bytes")
        if last + 1 < total and len(data) < MIN_CHUNK:
            raise _Reject(400, f"Chunk too small - {len(data)} bytes; every chunk but the last "
                               f"must be at least {MIN_CHUNK}")
        if len(data) > self.max_file_bytes:
            raise _Reject(400, f"File size too large. Got {len(data)}. Maximum is "
                               f"{self.max_file_bytes}.")
        with self.lock:
            p = self.partials.get(upload_id)
            if p is None:
                if first != 0:
                    raise _Reject(400, f"Unknown upload {upload_id} - the first chunk must start "
                                       "at byte 0")
                p = {"resource_type": rtype, "public_id": fields.get("public_id"),
                     "total": total, "data": bytearray(), "last_range": None, "chunks": 0}
                self.partials[upload_id] = p
            if p["resource_type"] != rtype or p["public_id"] != fields.get("public_id") or \
                    p["total"] != total:
                raise _Reject(400, "Chunk does not match the upload's first chunk (resource "
                                   "type, public_id or total size)")
            if (first, last) == p["last_range"]:     # the previous chunk again: a retry
                del p["data"][first:]
                p["chunks"] -= 1
            elif first != len(p["data"]):
                raise _Reject(400, f"Chunk out of order - expected bytes from "
                                   f"{len(p['data'])}, got {content_range}")
            p["data"] += data
            p["last_range"] = (first, last)
            p["chunks"] += 1
            if last + 1 < total:
                return {"done": False, "bytes": len(p["data"]), "resource_type": rtype,
                        "public_id": p["public_id"]}
            del self.partials[upload_id]
            whole = bytes(p["data"])
        if len(whole) != total:
            raise _Reject(400, f"Upload incomplete - got {len(whole)} of {total} bytes")
        return self._store(rtype, fields, filename, whole, chunks=p["chunks"])

    def _injected_failure(self, headers) -> int | None:
        """The status to answer a chunk with instead of handling it, if one was asked for."""
        upload_id = headers.get("X-Unique-Upload-Id")
        if not upload_id:
            return None
        with self.lock:
            p = self.partials.get(upload_id)
            index = p["chunks"] if p is not None else 0
            rule = self._failures.get(index)
            if rule is None or rule[0] <= 0:
                return None
            rule[0] -= 1
            return rule[1]

    def _store(self, rtype: str, fields: dict, filename: str, data: bytes,
               chunks: int = 0) -> dict:
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
                                 "filename": filename, "data": data, "response": resp,
                                 "chunks": chunks})
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

    def _handle(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        status, answer = self._answer(path, headers, body)
        if headers.get("Content-Range") or headers.get("X-Unique-Upload-Id"):
            with self.lock:
                self.chunks.append({"upload_id": headers.get("X-Unique-Upload-Id"),
                                    "range": headers.get("Content-Range"), "status": status})
        return status, answer

    def _answer(self, path: str, headers, body: bytes) -> tuple[int, dict]:
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
            failure = self._injected_failure(headers) if action == "upload" else None
            if failure is not None:
                raise _Reject(failure, "General Error (injected by the test)")
            fields, files = parse_multipart(headers.get("Content-Type", ""), body)
            if action == "upload" and (headers.get("Content-Range") or
                                       headers.get("X-Unique-Upload-Id")):
                return 200, self._chunk(rtype, headers, fields, files)
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
            # Headers and body go out in two writes: without TCP_NODELAY a kept-alive
            # connection waits for the client's delayed ACK (40 ms) between them.
            disable_nagle_algorithm = True

            def log_message(self, fmt, *args):  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                with standin.lock:
                    standin.connections += 1
                    standin.open_conns.add(self.connection)

            def finish(self) -> None:
                with standin.lock:
                    standin.open_conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                with standin.lock:
                    standin.requests += 1
                if self.headers.get("Transfer-Encoding") or length > MAX_BODY:
                    status, body = 413, {"error": {"message": "File size too large"}}
                    self.close_connection = True  # the body was not read
                else:
                    data = self.rfile.read(length)
                    standin._wait_at_gate(self.path)
                    status, body = standin._handle(self.path, self.headers, data)
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
