"""Response bodies: decompression with the persona's cap on the decompressed size."""
from __future__ import annotations

import zlib

import brotli

from campaigns.http.errors import FetchError


class Body:
    """Collects a response body, decompressing it, never holding more than `cap` bytes of either."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.raw = 0
        self.parts: list[bytes] = []
        self.size = 0
        self.full = False
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        self._undecided: bytes | None = b"" if encoding == "deflate" else None  # input before any output
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise FetchError(f"unsupported content-encoding {encoding!r}")

    def feed(self, data: bytes) -> None:
        data = data[: self.cap - self.raw]
        self.raw += len(data)
        if self.raw >= self.cap:
            self.full = True
        if self._zlib is not None:
            data = self._inflate(data)
        elif self._brotli is not None:
            try:
                data = self._brotli.process(data, output_buffer_limit=self.cap - self.size + 1)
            except brotli.error as exc:
                raise FetchError(f"invalid br body: {exc}") from None
            if not self._brotli.can_accept_more_data():
                self.full = True  # output limit reached: the decompressed body is over the cap
        self._keep(data)

    def _inflate(self, data: bytes) -> bytes:
        room = self.cap - self.size
        if room <= 0:  # max_length=0 would mean "no limit"
            self.full = True
            return b""
        if self._undecided is not None:
            self._undecided += data
        try:
            out = self._zlib.decompress(data, room)  # type: ignore[union-attr]
        except zlib.error as exc:
            if self._undecided is not None:  # "deflate" is often sent without its zlib wrapper
                data, self._undecided = self._undecided, None
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data)
            raise FetchError(f"invalid {self.encoding} body: {exc}") from None
        if out:
            self._undecided = None
        if self._zlib.unconsumed_tail:  # type: ignore[union-attr]
            self.full = True
        return out

    def _keep(self, data: bytes) -> None:
        room = self.cap - self.size
        if len(data) >= room:
            data = data[:room]
            self.full = True
        if data:
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
