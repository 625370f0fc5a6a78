#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the dataset tests: it stands between a reader and a real
object server (nginx, s3rver) and breaks every Nth GET the way networks and stores do.

  --drop-every N    send the headers and half the body, then close the connection
  --fail-every N    answer 503 Slow Down without asking the server
  --stall-every N   send half the body, then go silent for --stall-s seconds
  --sigv4 KEY:SECRET  check each request's AWS Signature Version 4 (s3rver 3.7.1 checks the
                    access key but not the V4 signature: its code leaves it unimplemented)

Every answer is logged to --log as one JSON line: path, range, status, bytes sent, fault.
The proxy writes its port to --port-file once it listens (it binds port 0)."""
import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import re
import socketserver
import os
import threading
import time


class Faults:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def next_fault(self):
        with self.lock:
            self.count += 1
            n = self.count
        for name in ("drop", "fail", "stall"):
            every = getattr(self.args, f"{name}_every")
            if every and n % every == 0:
                return name
        return None

    def record(self, **entry):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(entry) + "\n")


def sigv4_error(headers, method, raw_path, key, secret):
    """None when the request carries a valid AWS4-HMAC-SHA256 signature by key/secret, else
    why not."""
    auth = headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                 r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$", auth)
    if not m:
        return "no AWS4-HMAC-SHA256 Authorization header"
    access_key, date, region, service, signed, signature = m.groups()
    if access_key != key:
        return "unknown access key"
    amz_date = headers.get("x-amz-date", "")
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        return "no x-amz-content-sha256"
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names:
        return "host and x-amz-date must be signed"
    path, _, query = raw_path.partition("?")
    canonical_query = "&".join(sorted(query.split("&"))) if query else ""
    canonical_headers = "".join(
        f"{n}:{' '.join((headers.get(n) or '').split())}\n" for n in names)
    canonical = "\n".join([method, path, canonical_query, canonical_headers, signed, payload])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else "signature does not match"


def make_handler(args, faults):
    upstream_host, upstream_port = args.upstream.rsplit(":", 1)
    key, _, secret = (args.sigv4 or "").partition(":")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def reply(self, status, body, fault):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            faults.record(path=self.path, range=self.headers.get("Range"), status=status,
                          sent=len(body), fault=fault)

        def do_GET(self):
            self.forward()

        def do_HEAD(self):
            self.forward()

        def do_PUT(self):
            self.forward()

        def forward(self):
            if args.sigv4:
                why = sigv4_error(self.headers, self.command, self.path, key, secret)
                if why:
                    body = (f"<Error><Code>SignatureDoesNotMatch</Code><Message>{why}"
                            f"</Message></Error>").encode()
                    return self.reply(403, body, "sigv4")
            fault = self.next_fault_for_get()
            if fault == "fail":
                return self.reply(503, b"<Error><Code>SlowDown</Code></Error>", fault)
            body_in = None
            if "Content-Length" in self.headers:
                body_in = self.rfile.read(int(self.headers["Content-Length"]))
            conn = http.client.HTTPConnection(upstream_host, int(upstream_port), timeout=60)
            headers = {k: v for k, v in self.headers.items()}
            conn.request(self.command, self.path, body=body_in, headers=headers)
            response = conn.getresponse()
            body = response.read()
            conn.close()
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                    self.send_header(k, v)
            if "content-length" not in {k.lower() for k, _ in response.getheaders()}:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "HEAD":
                body = b""
            if fault in ("drop", "stall") and len(body) > 1:
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                if fault == "stall":
                    time.sleep(args.stall_s)
                self.close_connection = True
                faults.record(path=self.path, range=self.headers.get("Range"),
                              status=response.status, sent=half, fault=fault)
                return
            self.wfile.write(body)
            faults.record(path=self.path, range=self.headers.get("Range"),
                          status=response.status, sent=len(body), fault=None)

        def next_fault_for_get(self):
            return faults.next_fault() if self.command == "GET" else None

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="host:port of the real server")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--drop-every", type=int, default=0)
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--stall-every", type=int, default=0)
    p.add_argument("--stall-s", type=float, default=3.0)
    p.add_argument("--sigv4", help="KEY:SECRET the requests must be signed with")
    args = p.parse_args()
    server = Server(("127.0.0.1", 0), make_handler(args, Faults(args)))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
