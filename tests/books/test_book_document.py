"""Reading books into chapters and segments: EPUB (spine, TOC), Markdown headings, text headings, bad files."""

from __future__ import annotations

import pytest
from epubs import OPF, epub

from parrot.books.document import MAX_SEGMENT_CHARS, BookError, book_format, read_book, split_segments

ENCRYPTION = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData><enc:EncryptionMethod Algorithm="{}"/>
  <enc:CipherData><enc:CipherReference URI="OEBPS/text/one.xhtml"/></enc:CipherData></enc:EncryptedData>
</encryption>"""


def test_epub_chapters_follow_spine_and_toc():
    book = read_book(epub(), "epub")
    assert book.title == "The Test Book"
    assert [c.title for c in book.chapters] == ["The Beginning", "The End"]  # cover (linear=no) left out
    one, two = book.chapters
    assert one.segments == ("The Beginning", "One", "It was a bright cold day.", "The clocks struck.")
    assert two.segments == ("The End", "Two", "A parrot & a cat", "talked.")


def test_epub2_ncx_titles_and_headings_when_no_toc():
    ncx = """<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap>
      <navPoint id="a"><navLabel><text>First</text></navLabel><content src="text/one.xhtml"/></navPoint>
      </navMap></ncx>"""
    opf = (
        OPF.replace('properties="nav"', "")
        .replace("<spine>", '<spine toc="ncx">')
        .replace("</manifest>", '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/></manifest>')
    )
    book = read_book(epub({"OEBPS/content.opf": opf, "OEBPS/toc.ncx": ncx}), "epub")
    assert [c.title for c in book.chapters] == ["First", "Two"]  # no TOC entry: the page's first heading


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 this is not really a zip", "damaged"),
        (b"plain text, not an epub", "damaged"),
        (epub(skip=("META-INF/container.xml",)), "container.xml is missing"),
        (epub(skip=("OEBPS/content.opf",)), "package document"),
        (epub(skip=("OEBPS/text/one.xhtml",)), "not in the archive"),
        (epub({"OEBPS/content.opf": "<package><oops"}), "not well-formed"),
        (epub({"META-INF/encryption.xml": ENCRYPTION.format("http://www.w3.org/2001/04/xmlenc#aes128-cbc")}), "DRM"),
        (epub({"META-INF/rights.xml": "<rights/>"}), "DRM"),
        (epub({"OEBPS/content.opf": '<!DOCTYPE x [<!ENTITY a "aaaa">]><package/>'}), "entities"),
    ],
)
def test_bad_epubs_get_a_clear_error(data: bytes, message: str):
    with pytest.raises(BookError, match=message):
        read_book(data, "epub")


def test_font_obfuscation_is_not_drm():
    data = epub({"META-INF/encryption.xml": ENCRYPTION.format("http://www.idpf.org/2008/embedding")})
    assert len(read_book(data, "epub").chapters) == 2


def test_markdown_chapters_at_repeated_heading_level():
    text = (
        "# The Book\n\n## One\n\nFirst *para*.\n\n### A section\n\nSee [the link](http://x) here.\n\n"
        "```\ncode is not read\n```\n\n## Two\n\n- an item\n- another ![img](a.png)\n"
    )
    book = read_book(text.encode(), "md")
    assert book.title == "The Book"
    assert [c.title for c in book.chapters] == ["One", "Two"]
    assert book.chapters[0].segments == ("One", "First para.", "A section", "See the link here.")
    assert book.chapters[1].segments == ("Two", "an item another")


def test_text_chapter_headings_and_title():
    text = "Preface\n\nWhy this book.\n\nChapter 1: Dawn\nThe sun rose.\n\n第二章 夜晚\n\n月亮升起来了。\n"
    book = read_book(text.encode(), "txt", title="Given")
    assert book.title == "Given"
    assert [c.title for c in book.chapters] == ["Preface", "Chapter 1: Dawn", "第二章 夜晚"]
    assert book.chapters[2].segments == ("第二章 夜晚", "月亮升起来了。")


def test_text_without_headings_is_one_chapter():
    book = read_book("One paragraph.\n\nAnother.".encode("utf-16"), "txt")
    assert [(c.title, c.segments) for c in book.chapters] == [("Text", ("One paragraph.", "Another."))]


def test_long_paragraphs_split_at_sentence_ends():
    sentence = "This sentence has exactly a few words in it. "
    segments = split_segments([sentence * 40, "x" * (MAX_SEGMENT_CHARS * 2 + 5), "短句。" * 300])
    assert all(0 < len(s) <= MAX_SEGMENT_CHARS for s in segments)
    assert " ".join(segments[:4]).split() == (sentence * 40).split()
    assert all(s.endswith("it.") for s in segments[:3])
    assert "".join(s for s in segments if s.startswith("短")) == "短句。" * 300


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"\x00\x01\x02binary", "txt", "binary"),
        ("café".encode("latin-1"), "txt", "not UTF-8"),
        (b"   \n\n  ", "md", "no text"),
    ],
)
def test_bad_text_files(data: bytes, fmt: str, message: str):
    with pytest.raises(BookError, match=message):
        read_book(data, fmt)


def test_format_from_name():
    assert [book_format(n) for n in ("a.EPUB", "b.markdown", "c.txt", "d.md")] == ["epub", "md", "txt", "md"]
    with pytest.raises(BookError, match=r"\.epub, \.md or \.txt"):
        book_format("book.pdf")
