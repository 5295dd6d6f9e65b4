"""A deliberately lenient downstream: any LF/CR '.' LF/CR ends DATA, as in smuggling-prone MTAs.

If the gateway ever relayed bare line endings, a second message would appear here.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field

from tests.support.downstream import free_port

_LENIENT_END = re.compile(rb"(?:\r\n|\n|\r)\.(?:\r\n|\n|\r)")


@dataclass
class LenientDownstream:
    port: int = field(default_factory=free_port)
    messages: list[bytes] = field(default_factory=list)
    _sock: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> LenientDownstream:
        self._sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def received(self) -> list[bytes]:
        with self._lock:
            return list(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        in_data = False
        with conn:
            conn.sendall(b"220 lenient.test ESMTP\r\n")
            while True:
                if in_data:
                    match = _LENIENT_END.search(b"\r\n" + buf)
                    if match is None:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                        continue
                    end = match.end() - 2
                    with self._lock:
                        self.messages.append(buf[:max(0, match.start() - 2)])
                    buf = buf[end:]
                    in_data = False
                    conn.sendall(b"250 2.0.0 Ok\r\n")
                    continue
                line, sep, rest = buf.partition(b"\n")
                if not sep:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                    continue
                buf = rest
                verb = line.strip().upper()[:4]
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-lenient.test\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    in_data = True
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 Ok\r\n")
