from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from campaigns import keywords
from campaigns.keywords import (
    InvalidKeywordRule,
    KeywordHit,
    KeywordRuleSpec,
    compile_rule,
    extract_title,
    match_keywords,
    page_text,
    visible_text,
)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def rule(pattern: str, kind: str = "string", **kwargs) -> object:
    return compile_rule(KeywordRuleSpec("set", pattern, kind, **kwargs))


# --------------------------------------------------------------------------- visible_text


def test_visible_text_drops_scripts_styles_comments_templates_and_the_title():
    html = """<!DOCTYPE html><html><head><title>Title words</title><meta name=x content="meta words">
    <style>p { content: "style words" }</style><script>var s = "script words";</script></head>
    <body><noscript>noscript words</noscript><template><p>template words</p></template>
    <!-- comment words --><p>Shown   words</p><iframe>iframe words</iframe></body></html>"""
    assert visible_text(html) == "Shown words"


def test_the_tag_numbers_the_walk_compares_are_those_of_any_other_document():
    # Standard element names are numbered alike in every document; any other name is numbered per
    # document, and the walk would then miss that element in every page.
    other = LexborHTMLParser("<p>another document</p>")
    for names in (keywords._BLOCKS, keywords._DROPPED):
        numbers = keywords._tag_ids(names)
        assert {other.create_node(name).tag_id for name in names} == numbers
        assert len(numbers) == len(set(names))


def test_dropped_elements_inside_dropped_elements_and_blocks_inside_them_leave_no_text():
    # In SVG a <title> holds elements: a script in it, a block in it, a title inside the text.
    html = ("<p>a<svg><title>t<script>s</script><p>x</p></title><style>st</style><text>sh<title>t2</title>own"
            "</text></svg>b</p><template><p>tp</p></template><noscript><p>ns</p></noscript>c")
    assert visible_text(html) == "a shown b c"


def test_visible_text_collapses_whitespace_and_unescapes_entities_after_removing_tags():
    html = "<p>\n  Fish &amp; chips&nbsp;&nbsp;for &pound;5\t&#x263A; &lt;script&gt;not a tag&lt;/script&gt;</p>"
    assert visible_text(html) == "Fish & chips for £5 ☺ <script>not a tag</script>"


def test_block_tags_separate_words_and_inline_tags_do_not():
    assert visible_text("<p>one</p><p>two</p><div>three<br>four</div><li>five</li>") == "one two three four five"
    assert visible_text("w<b>or</b>d <SPAN>sp</SPAN>lit") == "word split"


def test_markup_inside_attributes_and_scripts_is_not_text():
    assert visible_text("""<a title="x > y <p>" data-x='<script>'>link</a>""") == "link"
    assert visible_text('<script>document.write("</p><p>fake");</script>real') == "real"
    assert visible_text("<SCRIPT type=x>bad</Script >good") == "good"
    assert visible_text("<p class=don't>kept</p>") == "kept"


def test_stray_less_than_signs_stay_text():
    assert visible_text("1 < 2 and 3 <= 4") == "1 < 2 and 3 <= 4"


def test_unterminated_constructs_swallow_the_rest_like_a_browser():
    assert visible_text("before<!-- never closed <p>hidden</p>") == "before"
    assert visible_text("before<script>never closed <p>hidden</p>") == "before"
    assert visible_text('before<a href="never closed>hidden</a>') == "before"


@pytest.mark.parametrize(
    "hostile",
    ["<script>" * 25_000, "<!--" * 50_000, '<a "' * 50_000, '<a x="' * 30_000, "a < b " * 30_000,
     "<title>" * 25_000, "</script" * 25_000, "<style><script>" * 12_000, "<!x" * 60_000],
)
def test_hostile_markup_is_processed_in_linear_time(hostile):
    started = time.perf_counter()
    page_text(hostile)
    assert time.perf_counter() - started < 1.0


def test_a_200_kb_page_is_processed_quickly():
    block = ('<div class="row" data-x=\'a>b\'><p>lorem ipsum <a href="/x?a=1&amp;b=2">link &eacute;</a>'
             ' <b>bold</b></p><!-- c --><script>if (a<b) {document.write("</p>")}</script></div>\n')
    html = "<html><head><title>Big</title></head><body>" + block * (200_000 // len(block)) + "</body></html>"
    assert len(html) > 195_000
    started = time.perf_counter()
    text = visible_text(html)
    elapsed = time.perf_counter() - started
    assert text.startswith("lorem ipsum link é bold lorem ipsum")
    # lexbor takes a few milliseconds (html.parser took ~30 ms): the bound catches a quadratic walk,
    # with room for a slow or busy machine.
    assert elapsed < 0.25


HTML_PIECES = ["<p>", "</p>", "<title>", "</title>", "<script>", "</script>", "<!--", "-->", "text", " ", "\n",
               "&amp;", "<b>", '"', "'", "=", "<a href='", ">", "<", "<br>", "x" * 40]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=60))
def test_long_texts_are_collapsed_in_slices_with_the_same_result(monkeypatch_module, pieces):
    html = "".join(pieces) * 20
    expected = page_text(html)
    monkeypatch_module.setattr(keywords, "_SLICE", 37)
    try:
        assert page_text(html) == expected
    finally:
        monkeypatch_module.undo()


def test_a_megabyte_of_tiny_tags_is_processed_in_memory_proportional_to_the_page():
    html = "<html><body>" + "<p>bomb</p>" * 95_000
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        base = tracemalloc.get_traced_memory()[0]
        text = visible_text(html)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert text == " ".join(["bomb"] * 95_000)
    # The DOM of tag-dense markup holds ~60 bytes per byte of page (docs/DECISIONS.md): what matters
    # is that it stays proportional to the page, which the persona's body cap bounds.
    assert peak < 80 * len(html)


# --------------------------------------------------------------------------- titles


def test_extract_title_unescapes_trims_and_collapses():
    assert extract_title("<html><head><TITLE>\n  Fish &amp;\n Chips  </TITLE></head></html>") == "Fish & Chips"


def test_a_script_in_the_title_is_plain_title_text():
    html = "<html><head><title><script>alert(1)</script></title></head><body>Hi</body></html>"
    assert extract_title(html) == "<script>alert(1)</script>"
    assert visible_text(html) == "Hi"


def test_extract_title_takes_the_first_real_title_and_caps_it_at_500_characters():
    assert extract_title("<!-- <title>commented</title> --><title>real</title><title>second</title>") == "real"
    assert extract_title("<title>" + "x" * 800 + "</title>") == "x" * 500
    assert extract_title("<p>no title here</p>") == ""
    assert extract_title("<titles>not a title</titles>") == ""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<title>", "</title>", "<script>", "</script>", "<!--", "-->",
                                 "text", " ", "&amp;", "<b>", '"', "'", "=", "<a href='", ">", "<"]), max_size=30))
def test_page_text_is_extract_title_and_visible_text_in_one_pass(pieces):
    html = "".join(pieces)
    assert page_text(html) == (extract_title(html), visible_text(html))


# --------------------------------------------------------------------------- compile_rule


def test_compile_rule_refuses_an_unknown_kind():
    expected = r"^unknown keyword rule kind 'glob' \(expected 'string' or 'regex'\)$"
    with pytest.raises(InvalidKeywordRule, match=expected):
        compile_rule(KeywordRuleSpec("set", "x", "glob"))


def test_compile_rule_refuses_an_empty_pattern():
    with pytest.raises(InvalidKeywordRule, match="^keyword rule pattern is empty$"):
        compile_rule(KeywordRuleSpec("set", "", "string"))


@pytest.mark.parametrize("pattern", ["(unclosed", r"(a)\1", "(?=lookahead)", "a{1001}"])
def test_compile_rule_refuses_what_re2_cannot_compile(pattern):
    with pytest.raises(InvalidKeywordRule) as caught:
        compile_rule(KeywordRuleSpec("set", pattern, "regex"))
    message = str(caught.value)
    assert message.startswith(f"invalid regex {pattern!r}: ")
    assert "\n" not in message


def test_compile_rule_refuses_a_regex_that_matches_the_empty_string():
    with pytest.raises(InvalidKeywordRule, match="matches the empty string"):
        compile_rule(KeywordRuleSpec("set", "a*", "regex"))


def test_invalid_keyword_rule_is_a_value_error():
    assert issubclass(InvalidKeywordRule, ValueError)


# --------------------------------------------------------------------------- match_keywords


TEXT = "Widgets for sale. Buy WIDGETS today; widgets ship free. Contact sales@example.com."


def test_string_rules_count_case_insensitive_non_overlapping_substrings():
    [hit] = match_keywords(TEXT, rules=[rule("widgets")], adhoc=())
    assert hit == KeywordHit("set", "widgets", "string", 3, hit.contexts)
    assert match_keywords("aaaa", rules=[rule("aa")], adhoc=())[0].count == 2


def test_case_sensitive_string_rules_match_exact_case_only():
    [hit] = match_keywords(TEXT, rules=[rule("WIDGETS", case_sensitive=True)], adhoc=())
    assert hit.count == 1


def test_regex_rules_use_re2_case_insensitively_unless_flagged():
    [hit] = match_keywords(TEXT, rules=[rule(r"[a-z]+@example\.com", "regex")], adhoc=())
    start = TEXT.index("sales@")
    assert (hit.kind, hit.count, hit.contexts) == ("regex", 1, (TEXT[start - 40 :],))
    assert match_keywords(TEXT, rules=[rule(r"widgets", "regex")], adhoc=())[0].count == 3
    assert match_keywords(TEXT, rules=[rule(r"widgets", "regex", case_sensitive=True)], adhoc=())[0].count == 1


def test_contexts_are_the_first_three_matches_with_context_chars_either_side():
    text = " ".join(f"item{i} widget" for i in range(6))
    [hit] = match_keywords(text, rules=[rule("widget", context_chars=6)], adhoc=())
    assert hit.count == 6
    assert hit.contexts == ("item0 widget item1", "item1 widget item2", "item2 widget item3")


def test_regex_contexts_are_right_on_non_ascii_text():
    text = "Café crème — très bon café, Cafés partout"
    [hit] = match_keywords(text, rules=[rule(r"caf[^ ,]+", "regex", context_chars=3)], adhoc=())
    assert hit.count == 3
    assert hit.contexts == ("Café cr", "on café, C", "é, Cafés pa")
    assert match_keywords(text, rules=[rule(r"caf\w", "regex")], adhoc=()) == []  # RE2's \w is ASCII


def test_string_matching_handles_text_whose_lowercase_changes_length():
    text = "İstanbul widgets, WIDGETS"  # "İ".lower() is two characters
    [hit] = match_keywords(text, rules=[rule("widgets", context_chars=2)], adhoc=())
    assert (hit.count, hit.contexts) == (2, ("l widgets, ", ", WIDGETS"))


def test_zero_width_regex_matches_are_not_counted():
    [hit] = match_keywords("ab cd", rules=[rule(r"cd|\b", "regex")], adhoc=())
    assert hit.count == 1


def test_adhoc_keywords_are_case_insensitive_substrings_in_the_adhoc_set():
    hits = match_keywords(TEXT, rules=[], adhoc=["SALE", "  ", "absent", "sale"])
    assert [(h.keyword_set, h.keyword, h.kind, h.count) for h in hits] == [("adhoc", "SALE", "string", 2)]


def test_only_rules_with_hits_are_returned_in_rule_order_then_adhoc():
    rules = [rule("today"), rule("missing"), rule(r"wid\w+", "regex"), rule("free")]
    hits = match_keywords(TEXT, rules=rules, adhoc=["contact"])
    assert [(h.keyword, h.count) for h in hits] == [("today", 1), (r"wid\w+", 3), ("free", 1), ("contact", 1)]


def test_a_rule_is_compiled_once_per_process_and_an_edited_rule_anew():
    spec = KeywordRuleSpec("offers", r"free\s+shipping", "regex")
    first = compile_rule(spec)
    # An equal spec, as the next batch reads it from the database: the compiled rule is reused.
    assert compile_rule(KeywordRuleSpec("offers", r"free\s+shipping", "regex")) is first
    edited = compile_rule(KeywordRuleSpec("offers", r"fast\s+delivery", "regex"))
    assert edited is not first
    assert [h.keyword for h in match_keywords("Fast  delivery, free shipping", rules=[edited], adhoc=[])] == [
        r"fast\s+delivery"]


def test_matches_past_the_contexts_are_counted_not_kept():
    text = "aa " * 7 + "aaaaa"  # seven "aa", then "aaaaa": two more for a substring, one for a+
    [string] = match_keywords(text, rules=[rule("aa", context_chars=0)], adhoc=())
    assert (string.count, string.contexts) == (9, ("aa", "aa", "aa"))
    assert match_keywords(text, rules=[], adhoc=["AA"])[0].count == 9
    [regex] = match_keywords(text, rules=[rule("a+", "regex", context_chars=0)], adhoc=())
    assert (regex.count, regex.contexts) == (8, ("aa", "aa", "aa"))
    [mixed] = match_keywords(text, rules=[rule(r"\ba{5}|\b", "regex", context_chars=0)], adhoc=())
    assert (mixed.count, mixed.contexts) == (1, ("aaaaa",))
    assert match_keywords("ABab", rules=[rule("ab", "regex")], adhoc=())[0].count == 2  # adjacent matches
