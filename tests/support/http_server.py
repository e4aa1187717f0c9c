#!/usr/bin/env python3
"""http_server.py - the support server and dump host for tests and the demo.

Serves the files below --root over HTTP/1.1 on 127.0.0.1, with the behaviour a
real support server (nginx) has: ETag (sha256 of the content) and
Last-Modified headers, 304 answers to If-None-Match / If-Modified-Since, Range
not supported. Tests steer it through a small control API, so one process can
play every failure the fetcher must survive:

  POST /_control        JSON rule {"path": "/apiscout/x.json", ...} for one path:
                          "status": 500      answer with this status, no body
                          "delay_ms": 2000   sleep before answering
                          "truncate": 10     send Content-Length of the full body but only N bytes
                          "etag": "\"v2\""   override the ETag
                          "redirect": "/p"   answer 302 to this location
                          "require_header": ["Authorization", "apitoken KEY"]  else 403
                          "times": 3         the rule applies to the next 3 requests only
  POST /_control/reset  drop all rules and counters
  GET  /_stats          {"requests": {path: count of GETs}, "bodies": {path: full 200 bodies sent}}

Counting full 200 bodies per path is what lets a test prove single flight
("20 cold requests -> 1 origin download").

With --tls-cert and --tls-key it serves HTTPS instead (for certificate
verification tests); the control API is then HTTPS too.
"""
import argparse
import email.utils
import hashlib
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LOCK = threading.Lock()
RULES = {}
REQUESTS = {}
BODIES = {}


def take_rule(path):
    with LOCK:
        rule = RULES.get(path)
        if rule is None:
            return {}
        if "times" in rule:
            rule["times"] -= 1
            if rule["times"] <= 0:
                del RULES[path]
        return dict(rule)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args), flush=True)

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path == "/_control/reset":
            with LOCK:
                RULES.clear()
                REQUESTS.clear()
                BODIES.clear()
            return self.send_json(200, {"ok": True})
        if path == "/_control":
            rule = json.loads(data or b"{}")
            with LOCK:
                RULES[rule.pop("path")] = rule
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": "no such control endpoint"})

    def do_HEAD(self):
        self.serve(head=True)

    def do_GET(self):
        if urlsplit(self.path).path == "/_stats":
            with LOCK:
                return self.send_json(200, {"requests": dict(REQUESTS), "bodies": dict(BODIES)})
        self.serve(head=False)

    def serve(self, head):
        path = unquote(urlsplit(self.path).path)
        with LOCK:
            REQUESTS[path] = REQUESTS.get(path, 0) + 1
        rule = take_rule(path)
        if rule.get("delay_ms"):
            time.sleep(rule["delay_ms"] / 1000.0)
        if "require_header" in rule:
            name, value = rule["require_header"]
            if self.headers.get(name) != value:
                return self.send_json(403, {"error": "forbidden"})
        if "redirect" in rule:
            self.send_response(302)
            self.send_header("Location", rule["redirect"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "status" in rule:
            return self.send_json(rule["status"], {"error": "injected"})
        full = os.path.realpath(os.path.join(self.root, path.lstrip("/")))
        if not full.startswith(os.path.realpath(self.root) + os.sep) or not os.path.isfile(full):
            return self.send_json(404, {"error": "not found", "path": path})
        with open(full, "rb") as f:
            body = f.read()
        etag = rule.get("etag") or '"%s"' % hashlib.sha256(body).hexdigest()[:32]
        mtime = int(os.stat(full).st_mtime)
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = inm == etag
        elif ims is not None:
            try:
                not_modified = email.utils.parsedate_to_datetime(ims).timestamp() >= mtime
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.end_headers()
        if head:
            return
        if "truncate" in rule:
            self.wfile.write(body[: rule["truncate"]])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)
        with LOCK:
            BODIES[path] = BODIES.get(path, 0) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = ap.parse_args()
    Handler.root = args.root
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening on 127.0.0.1:%d root=%s" % (args.port, args.root), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
