"""A Prometheus remote-write receiver for tests: a real local HTTP server that decodes what it takes and
answers each request with the next status of a script (then 204)."""

import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cramjam


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data: bytes):
    """(field number, value) of a protobuf message: bytes for length-delimited, int or 8 raw bytes."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            if value >= 1 << 63:
                value -= 1 << 64
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            length, at = _varint(data, at)
            value, at = data[at:at + length], at + length
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def decode_write_request(body: bytes) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """The series of a snappy-compressed WriteRequest: labels, (timestamp ms, value)."""
    series = []
    for number, ts_bytes in _fields(bytes(cramjam.snappy.decompress_raw(body))):
        assert number == 1
        labels, samples = {}, []
        for field, value in _fields(ts_bytes):
            parts = dict(_fields(value))
            if field == 1:
                labels[parts[1].decode()] = parts[2].decode()
            else:
                samples.append((parts.get(2, 0), struct.unpack("<d", parts[1])[0]))
        series.append((labels, samples))
    return series


class Receiver:
    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[dict] = []  # headers of every request
        self.series: list[tuple[dict[str, str], list[tuple[int, float]]]] = []  # of the requests taken (2xx)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 204
                    receiver.requests.append(dict(self.headers))
                    if status < 300:
                        receiver.series.extend(decode_write_request(body))
                self.send_response(status)
                text = b"" if status < 300 else b"out of bounds" if status == 400 else b"busy"
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v1/write"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def samples(self) -> dict[tuple, list[tuple[int, float]]]:
        """Every sample taken, by series (its labels as sorted pairs)."""
        with self.lock:
            found: dict[tuple, list[tuple[int, float]]] = {}
            for labels, samples in self.series:
                found.setdefault(tuple(sorted(labels.items())), []).extend(samples)
            return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
