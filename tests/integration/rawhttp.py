"""Raw-socket HTTP/1.1 helpers for the hostile-input, limits and crash-safety tests (stdlib only).

http.client refuses to send most malformed requests and reads at most one response per call;
these helpers send exact bytes and read any number of responses from one connection, telling
apart "answered", "closed without an answer" and "still silent when the client gave up".
"""

import json
import socket
import time

CLOSED = "closed"      # the server closed (FIN or RST) before a complete response
TIMEOUT = "timeout"    # nothing (complete) arrived within the client's timeout


class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value)
        self.body = body

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error_code(self):
        """First V2 error code, or the ECR __type, or None."""
        try:
            doc = self.json()
        except ValueError:
            return None
        if isinstance(doc, dict):
            errs = doc.get("errors")
            if isinstance(errs, list) and errs and isinstance(errs[0], dict):
                return errs[0].get("code")
            if "__type" in doc:
                return doc["__type"]
        return None

    def __repr__(self):
        return "<%d %s headers=%r body=%r>" % (self.status, self.reason, self.headers, self.body[:300])


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            if not self._fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until_eof(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out


def read_response(reader, method="GET"):
    """One response from reader, or CLOSED.  socket.timeout propagates."""
    line = reader.line()
    while line == b"":          # tolerate stray CRLF
        line = reader.line()
    if line is None:
        return CLOSED
    parts = line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError("not an HTTP status line: %r" % line)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    while True:
        h = reader.line()
        if h is None:
            return CLOSED
        if h == b"":
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    if 100 <= status < 200:
        return read_response(reader, method)
    resp = RawResponse(status, reason, headers, b"")
    length = resp.header("Content-Length")
    if method == "HEAD" or status in (204, 304):
        return resp
    if resp.header("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = reader.line()
            if size_line is None:
                return CLOSED
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while reader.line() not in (b"", None):
                    pass
                break
            chunk = reader.exactly(size + 2)
            if chunk is None:
                return CLOSED
            body += chunk[:-2]
        resp.body = body
    elif length is not None:
        body = reader.exactly(int(length))
        if body is None:
            return CLOSED
        resp.body = body
    else:
        resp.body = reader.until_eof()
    return resp


def exchange(port, data, responses=1, timeout=10.0, shut_wr=False, pause_after=None,
             methods=None, host="127.0.0.1"):
    """Send `data` (bytes, or a list of bytes pieces sent with `pause_after` seconds between
    them) on a fresh connection and read up to `responses` responses.

    Returns (list of items, closed_after) where each item is a RawResponse, CLOSED or TIMEOUT
    (reading stops at the first CLOSED/TIMEOUT) and closed_after tells whether the server
    closed the connection after the last response read (checked only when every response
    arrived, with a short wait)."""
    pieces = data if isinstance(data, list) else [data]
    sock = socket.create_connection((host, port), timeout=timeout)
    out = []
    closed_after = None
    try:
        try:
            for i, p in enumerate(pieces):
                sock.sendall(p)
                if pause_after and i + 1 < len(pieces):
                    time.sleep(pause_after)
            if shut_wr:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass       # the server answered early and closed: read what it said
        reader = _Reader(sock)
        deadline = time.monotonic() + timeout
        for i in range(responses):
            m = (methods[i] if methods and i < len(methods) else "GET")
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                r = read_response(reader, m)
            except (socket.timeout, TimeoutError):
                out.append(TIMEOUT)
                break
            out.append(r)
            if r == CLOSED:
                break
        if out and all(isinstance(x, RawResponse) for x in out):
            sock.settimeout(1.0)
            try:
                closed_after = (not reader.buf) and not reader._fill()
            except (socket.timeout, TimeoutError):
                closed_after = False
        return out, closed_after
    finally:
        sock.close()


def request_bytes(method, path, headers=None, body=b"", host="127.0.0.1", content_length=True,
                  http_version="HTTP/1.1"):
    """Exact request bytes.  headers: list of (name, value) or dict; Content-Length is added
    from the body unless content_length is False or the headers already carry one."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in items}
    if "host" not in names:
        items.insert(0, ("Host", host))
    if content_length and "content-length" not in names and "transfer-encoding" not in names \
            and (body or method in ("POST", "PUT", "PATCH")):
        items.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, http_version)
    head += "".join("%s: %s\r\n" % kv for kv in items) + "\r\n"
    return head.encode("latin-1") + body


def wait_closed(sock, limit):
    """Seconds until the peer closes `sock` (reads and discards anything it sends), or None
    if it is still open after `limit` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        sock.settimeout(max(0.05, limit - (time.monotonic() - start)))
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start
    return None
