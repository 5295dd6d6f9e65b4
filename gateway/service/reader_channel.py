"""The socket between the gateway and a reader process (service/reading.py): pickled values,
and a message's bytes sent raw after the value that gives their size."""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from typing import Any


class Channel:
    """Frames on the socket between the gateway and a reader process: pickled values, and a
    message's bytes sent raw after a value that gives their size.

    A message is written with ``sendall`` and read with ``recv_into`` into one buffer of its
    size: multiprocessing's connection pickled it (a copy), sliced the bytes left to write
    after every partial write (megabytes copied again and again) and read into a new buffer
    per chunk.
    """

    _SIZE = struct.Struct("!Q")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, value: object, raw: bytes | None = None) -> None:
        """``value``, then ``raw`` when given (its size goes with the value)."""
        frame = pickle.dumps((value, None if raw is None else len(raw)),
                             protocol=pickle.HIGHEST_PROTOCOL)
        self.sock.sendall(self._SIZE.pack(len(frame)) + frame)
        if raw:
            self.sock.sendall(raw)

    def recv(self) -> tuple[Any, bytes | None]:
        """The next value, and the raw bytes sent with it (None when there were none)."""
        (size,) = self._SIZE.unpack(self._exactly(self._SIZE.size))
        value, raw_size = pickle.loads(self._exactly(size))
        return value, None if raw_size is None else self._exactly(raw_size)

    def _exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        done = 0
        while done < size:
            got = self.sock.recv_into(view[done:])
            if not got:
                raise EOFError("the other end closed the channel")
            done += got
        return bytes(buffer)

    async def answer(self, limit: int) -> Any:
        """The next value, read on the event loop as it arrives, never blocking it: a reader
        process that stops halfway through an answer is waited for within the read's budget,
        like one that never answers. A frame said to be over ``limit`` bytes is an end of
        channel, and memory follows the bytes that arrive, not the size a frame claims."""
        (size,) = self._SIZE.unpack(await self._arriving(self._SIZE.size))
        if size > limit:
            raise EOFError(f"an answer of {size} bytes, over {limit}")
        value, raw_size = pickle.loads(await self._arriving(size))
        if raw_size is not None:
            raise EOFError("a reader process sends no raw bytes")
        return value

    async def _arriving(self, size: int) -> bytes:
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        left = size
        while left:
            try:  # the socket stays blocking for the sending thread; this read never waits
                chunk = self.sock.recv(min(left, _CHUNK), socket.MSG_DONTWAIT)
            except BlockingIOError:
                await _readable(loop, self.sock.fileno())
                continue
            if not chunk:
                raise EOFError("the other end closed the channel")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


_CHUNK = 1024 * 1024
# The largest answer a reader process may send (a message's facts and documents' text).
MAX_ANSWER = 1024 * 1024 * 1024


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
