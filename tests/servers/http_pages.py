"""The pages the test web servers serve: `Page`, `Site`, `DEFAULT_PAGES` and the HTML helpers."""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

import brotli

# --------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    """One response. `body` is sent `repeat` times (streamed, for bodies far over a client's cap)."""

    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()  # values may use {http_port} / {https_port}
    encoding: str = ""  # "gzip" | "deflate" | "br": body is sent compressed, with Content-Encoding
    delay_s: float = 0.0  # wait before answering
    chunked: bool = False  # Transfer-Encoding: chunked instead of Content-Length
    repeat: int = 1
    raw: bytes | None = None  # sent as-is instead of an HTTP response, then the connection is closed
    wire: bytes | None = None  # the body as sent, already encoded (overrides body + encoding)

    def wire_body(self) -> bytes:
        if self.wire is not None:
            return self.wire
        body = self.body.encode() if isinstance(self.body, str) else self.body
        if self.encoding == "gzip":
            return gzip.compress(body, compresslevel=6, mtime=0)
        if self.encoding == "deflate":
            return zlib.compress(body)
        if self.encoding == "br":
            return brotli.compress(body, quality=1)
        return body


def redirect(location: str, status: int = 302) -> Page:
    return Page(status=status, body=f"<p>Moved to {location}</p>", headers=(("Location", location),))


def html(title: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"


SHOP_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Widget Shop &mdash; Home</title>
<style>.buy { color: red } /* Widget in a stylesheet */</style>
<script>var hidden = "Widget in a script";</script></head>
<body><h1>Welcome to Widget&nbsp;Shop</h1>
<p>We sell <b>Widgets</b> and gadgets with FREE shipping.</p>
<!-- Widget in a comment -->
<p>Order widgets today: call 555-0100.</p></body></html>"""
COMPRESSED_HTML = html("Compressed", "<p>compressed-marker: fresh widgets inside.</p>")
_BIG_BLOCK = b"<p>filler widgets</p>\n" * 2978  # 65,516 bytes


def bomb(encoding: str, size: int = 16 * 1024 * 1024) -> Page:
    """A small `encoding` body that inflates to `size` bytes of HTML (compressed block by block)."""
    block = b"<p>bomb</p>" * 95325  # ~1 MiB
    if encoding == "gzip":
        packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        wire = b"".join(packer.compress(block) for _ in range(size // len(block))) + packer.flush()
    else:
        packer = brotli.Compressor(quality=5)
        wire = b"".join(packer.process(block) for _ in range(size // len(block))) + packer.finish()
    return Page(wire=wire, encoding=encoding)


DEFAULT_PAGES: dict[tuple[str, str], Page] = {
    ("shop.df.test", "/"): Page(SHOP_HTML),
    ("plain.df.test", "/"): Page(html("Nothing here", "<p>An ordinary page.</p>")),
    ("latin1.df.test", "/"): Page(html("Caf\xe9", "<p>Caf\xe9 cr\xe8me</p>").encode("latin-1"),
                                  content_type="text/html; charset=iso-8859-1"),
    ("gzip.df.test", "/"): Page(COMPRESSED_HTML, encoding="gzip"),
    ("deflate.df.test", "/"): Page(COMPRESSED_HTML, encoding="deflate"),
    ("br.df.test", "/"): Page(COMPRESSED_HTML, encoding="br"),
    ("chunked.df.test", "/"): Page(html("Chunked", "<p>chunked-marker " + "pad " * 3000 + "widgets</p>"), chunked=True),
    ("big.df.test", "/"): Page(_BIG_BLOCK, repeat=160),
    ("notfound.df.test", "/"): Page(html("Not Found", "<p>No such page, widgets.</p>"), status=404),
    ("error.df.test", "/"): Page(html("Server Error", "<p>Something broke.</p>"), status=500),
    ("slow.df.test", "/"): Page(html("Slow", "<p>Finally.</p>"), delay_s=3.0),
    ("xss.df.test", "/"): Page("<html><head><title><script>alert(1)</script></title></head>"
                               "<body><p>Hello</p></body></html>"),
    ("redirect.df.test", "/"): redirect("/step2", 301),
    ("redirect.df.test", "/step2"): redirect("final"),
    ("redirect.df.test", "/final"): Page(html("Final", "<p>arrived with widgets</p>")),
    **{("chain.df.test", "/" if n == 0 else f"/{n}"): redirect(f"/{n + 1}") for n in range(6)},
    ("chain.df.test", "/6"): Page(html("End of chain", "<p>the end</p>")),
    ("loop.df.test", "/"): redirect("/a"),
    ("loop.df.test", "/a"): redirect("/"),
    ("tohttps.df.test", "/"): redirect("https://tohttps.df.test:{https_port}/secure", 301),
    ("tohttps.df.test", "/secure"): Page(html("Secure", "<p>secure widgets</p>")),
    ("tolocal.df.test", "/"): redirect("http://localhost:{http_port}/local"),
    ("localhost", "/local"): Page(html("Local", "<p>local page</p>")),
    ("toip.df.test", "/"): redirect("http://127.0.0.1:{http_port}/ip"),
    ("127.0.0.1", "/ip"): Page(html("By address", "<p>ip page</p>")),
    ("garbage.df.test", "/"): Page(raw=b"SPDY/9 what is this\r\n\r\n"),
    ("nocert.other.test", "/"): Page(html("No certificate", "<p>uncovered</p>")),
}
NOT_FOUND = Page(html("Unknown site", "<p>no such site</p>"), status=404)


BOMB_HOSTS = {"gzipbomb.df.test": "gzip", "brbomb.df.test": "br"}  # built when the Site is made


class Site:
    """Pages by (host, path); both web servers serve it. Unknown pages answer 404."""

    def __init__(self, pages: dict[tuple[str, str], Page] | None = None) -> None:
        self._pages: dict[tuple[str, str], tuple[Page, bytes]] = {}
        for (host, path), page in (pages or {}).items():
            self.add(host, path, page)

    def add(self, host: str, path: str, page: Page) -> None:
        self._pages[(host.lower(), path)] = (page, page.wire_body())

    def lookup(self, host: str, path: str) -> tuple[Page, bytes]:
        found = self._pages.get((host.lower(), path))
        return found if found is not None else (NOT_FOUND, NOT_FOUND.wire_body())
