"""TLS inside TLS: the session with an ``https://`` receiver, run through the TLS connection to an
``https://`` proxy's ``CONNECT`` tunnel, as Go's Transport nests them.

An ``ssl.SSLSocket`` cannot be wrapped a second time (the second session would speak on the raw socket,
beneath the proxy's TLS), so the inner session is an ``ssl.SSLObject`` over two memory BIOs: what it
writes is sent through the outer socket, what the outer socket receives is fed to it. ``NestedTls`` is
the little of a socket that http.client uses: ``sendall``, ``makefile("rb")`` and ``close``, which, as a
socket's, waits for the files made from it to close. The outer socket's timeout bounds each wait.
"""

import io
import ssl
from collections.abc import Callable
from typing import TypeVar

_CHUNK = 64 * 1024  # bytes asked of the outer socket at a time
T = TypeVar("T")


class NestedTls:
    """A TLS client session with ``server_hostname`` over ``carrier``, the outer TLS socket; the handshake
    runs here, and raises as ``SSLSocket``'s does (``ssl.SSLCertVerificationError`` for an untrusted
    certificate)."""

    def __init__(self, carrier: ssl.SSLSocket, context: ssl.SSLContext, server_hostname: str) -> None:
        self._carrier = carrier
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._session = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        self._files = 0
        self._closed = False
        self._run(self._session.do_handshake)

    def _run(self, operation: Callable[..., T], *args: object) -> T:
        """``operation`` of the inner session, fed from the carrier until it has what it needs."""
        while True:
            try:
                result = operation(*args)
            except ssl.SSLWantReadError:
                self._send_pending()
                data = self._carrier.recv(_CHUNK)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            self._send_pending()
            return result

    def _send_pending(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self._carrier.sendall(pending)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[self._run(self._session.write, view):]

    def recv_into(self, buffer: bytearray | memoryview) -> int:
        """Up to ``len(buffer)`` bytes of the receiver's answer; 0 at its end. A peer that closes without
        TLS's close_notify ends the stream too, as ``SSLSocket`` (``suppress_ragged_eofs``) has it."""
        try:
            return self._run(self._session.read, len(buffer), buffer)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return 0

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"NestedTls reads only, in binary (asked for {mode!r})")
        self._files += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        self._closed = True
        if not self._files:
            self._carrier.close()

    def _file_closed(self) -> None:
        self._files -= 1
        if self._closed and not self._files:
            self._carrier.close()


class _Reader(io.RawIOBase):
    """The raw stream under ``NestedTls.makefile``'s buffered reader."""

    def __init__(self, tls: NestedTls) -> None:
        super().__init__()
        self._tls = tls

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._tls.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._tls._file_closed()
        super().close()
