#!/usr/bin/env python3
"""A webhook receiver for demos and the fleet test: logs every Alertmanager-style notification it gets.

Each POST is appended to the log as one JSON line (received time, path, body); a readable summary goes
to stdout. GET / returns the log's notifications as a JSON list, so a test or a person can read what
arrived without a shell on the machine.

Usage: webhook_sink.py --listen HOST:PORT --log FILE
"""

import argparse
import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9099", metavar="HOST:PORT")
    parser.add_argument("--log", required=True, metavar="FILE")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    log_path = Path(args.log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = json.loads(body)
            except ValueError:
                self._answer(400, b"not JSON")
                return
            entry = {"received": time.time(), "path": self.path, "body": payload}
            with lock, log_path.open("a") as log:
                log.write(json.dumps(entry) + "\n")
            if isinstance(payload, dict):
                names = ", ".join(sorted({a.get("labels", {}).get("alertname", "?") + "@"
                                          + a.get("labels", {}).get("host", "?")
                                          for a in payload.get("alerts", [])}))
                print(f"{time.strftime('%H:%M:%S')} {payload.get('receiver')} {payload.get('status')}: {names}",
                      flush=True)
            self._answer(200, b"ok")

        def do_GET(self) -> None:
            with lock:
                lines = log_path.read_text().splitlines() if log_path.exists() else []
            self._answer(200, json.dumps([json.loads(line) for line in lines]).encode(), "application/json")

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    print(f"webhook sink on http://{args.listen}/, logging to {log_path}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
