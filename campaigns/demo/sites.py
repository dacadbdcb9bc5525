"""The demo's made-up web: which generated names resolve, and what each one serves.

Pure functions of the name (no I/O), so the DNS server, the web server and
the tests agree on every site without sharing state.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import product

# The generation campaign the demo runs: 18 × 18 two-letter prefixes + "demo" + ".test"
# (.test is reserved for testing: these names exist nowhere else).
CHARSET = "abcdefghijklmnopqr"
CONSTANT = "demo"
TLD = "test"
GENERATION_PARAMS = {
    "pattern": "prefix",
    "prefix_length": 2,
    "charset": CHARSET,
    "constant": CONSTANT,
    "tlds": [TLD],
    "count": len(CHARSET) ** 2,
    "batch_size": 50,
}
ADDRESS = "127.0.0.1"

# Share of the names (out of 100) per kind, in this order.
KINDS = (("shop", 30), ("blog", 25), ("parked", 15), ("error", 10), ("unresolved", 20))


@dataclass(frozen=True)
class Page:
    status: int
    body: str


def all_names() -> list[str]:
    """Every name the demo's generation campaign can produce."""
    return [f"{a}{b}{CONSTANT}.{TLD}" for a, b in product(CHARSET, repeat=2)]


def kind_of(name: str) -> str:
    """The kind of site a name is: a stable function of the name."""
    bucket = int.from_bytes(hashlib.sha256(name.lower().encode()).digest()[:4], "big") % 100
    for kind, share in KINDS:
        if bucket < share:
            return kind
        bucket -= share
    raise AssertionError("KINDS shares must add up to 100")


def resolves(name: str) -> bool:
    name = name.lower().rstrip(".")
    return name in _NAMES and kind_of(name) != "unresolved"


def page(name: str) -> Page:
    """What the web server answers for GET / on this host."""
    name = name.lower().rstrip(".")
    if not resolves(name):
        return Page(421, _html("Misdirected request", f"{name} is not served here."))
    kind = kind_of(name)
    title = name.split(".")[0].removesuffix(CONSTANT).upper() + " " + kind
    if kind == "shop":
        return Page(200, _html(
            f"{title}: the demo store",
            "<p>Hand-made mugs and teapots.</p><button>Add to cart</button>"
            "<p>Free shipping on orders over 40 €.</p><a href='/checkout'>Checkout</a>",
        ))
    if kind == "blog":
        return Page(200, _html(f"{title}: notes", "<article><h2>On brewing tea</h2><p>Posted in March. 3 comments.</p></article>"))
    if kind == "parked":
        return Page(200, _html(name, "<p>This domain is for sale! Make an offer.</p>"))
    status = (500, 503, 404)[int.from_bytes(hashlib.sha256(name.encode()).digest()[4:5], "big") % 3]
    return Page(status, _html("Error", f"<p>Something went wrong ({status}).</p>"))


def counts() -> dict[str, int]:
    """How many names of each kind the demo holds."""
    found = {kind: 0 for kind, _ in KINDS}
    for name in _NAMES:
        found[kind_of(name)] += 1
    return found


def _html(title: str, body: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


_NAMES = frozenset(all_names())
