"""Varied pages for comparing visible-text extractors (test_text_equivalence, bench/text_extraction.py).

Each entry: name → (body bytes, declared charset). Bodies are decoded with the fetcher's charset
rules before either extractor sees them.
"""
from __future__ import annotations

from tests.servers.http_server import SHOP_HTML

_ROW = "<tr><td>Widget {n}</td><td>&euro;{n}.99</td><td><a href='/w/{n}'>buy</a></td></tr>"
_SCRIPT = "<script>var s = '</p><p>not text</p>'; if (a < b && c > d) {{ x = \"<!--\" }} /* {n} */</script>"
_ARTICLE = ("<article><h2>Heading {n}</h2><p>Lorem <em>ipsum</em> dolor sit amet, <a href='/x?a=1&amp;b=2'>"
            "consectetur</a> adipiscing elit.<br>Sed do eiusmod tempor.</p><ul><li>one</li><li>two</li></ul>"
            "</article>")

CORPUS: dict[str, tuple[bytes, str]] = {
    "shop": (SHOP_HTML.encode(), "utf-8"),
    "table": (("<table><caption>Prices</caption>" + "".join(_ROW.format(n=n) for n in range(50))
               + "</table>").encode(), "utf-8"),
    "malformed-nesting": (b"<p><b><i>bold italic</b> italic</i> plain</p><div><span>in<div>block</span>after</div>",
                          "utf-8"),
    "unclosed-tags": (b"<html><body><div><p>one<p>two<ul><li>three<li>four</ul><table><tr><td>cell", "utf-8"),
    "comments": (b"a<!-- hidden -- still --> b <!--> c <!---> d <!-- x --!> e <!-- never closed", "utf-8"),
    "cdata": (b"a<![CDATA[ x ]]>b <svg><![CDATA[ in svg ]]></svg> c", "utf-8"),
    "huge-inline-script": (("<html><head><title>Scripts</title></head><body><p>visible start</p>"
                            + "".join(_SCRIPT.format(n=n) for n in range(400))
                            + "<p>visible end</p></body></html>").encode(), "utf-8"),
    "windows-1251": ("<html><head><meta charset='windows-1251'><title>Привет</title></head>"
                     "<body><p>Виджеты и гаджеты</p></body></html>".encode("cp1251"), ""),
    "shift_jis": ("<html><head><title>ウィジェット</title></head><body><p>日本語のページ</p></body></html>"
                  .encode("cp932"), "shift_jis"),
    "latin1": ("<p>Caf\xe9 cr\xe8me br\xfbl\xe9e \u20ac</p>".encode("cp1252"), "iso-8859-1"),
    "entities": (b"<p>&amp;lt; &notanentity; &copy 2026 &#x1F600; &#0; &nbsp;x&NotEqualTilde;</p>", "utf-8"),
    "titles": (b"<title>First &amp; <b>only</b></title><title>second</title><body>text<svg><title>s</title>"
               b"</svg></body>", "utf-8"),
    "raw-text-elements": (b"<textarea><b>not bold</b></textarea><xmp><p>literal</p></xmp><p>after</p>", "utf-8"),
    "attributes": (b"<p title='a > b' data-x=\"<p>\">quoted</p ><img alt='alt text'>w<b>or</b>d", "utf-8"),
    "stray-less-than": (b"1 < 2 and 3 <= 4, a<b c>d", "utf-8"),
    "noscript-template-iframe": (b"<head><noscript><link rel=x></noscript></head><body><noscript><p>ns</p>"
                                 b"</noscript><template><p>tpl</p></template><iframe><p>if</p></iframe>ok</body>",
                                 "utf-8"),
    "articles": (("<html><body>" + "".join(_ARTICLE.format(n=n) for n in range(300)) + "</body></html>").encode(),
                 "utf-8"),
}
