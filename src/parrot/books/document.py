"""A book's chapters, read from its structure: the EPUB spine and table of contents, Markdown headings, or
chapter headings in plain text. Each chapter is a title and the segments to speak (paragraphs, long ones
split at sentence ends), so a job can synthesize and keep them one by one.

Only the standard library: an EPUB is a zip of XHTML files described by an OPF package document. Files that
are not what they claim, EPUBs without their package document and DRM-locked EPUBs (``encryption.xml``
naming anything but font obfuscation, or ``rights.xml``) raise ``BookError`` saying so.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote
from xml.etree import ElementTree

from ..errors import InputError

MAX_SEGMENT_CHARS = 600  # a paragraph longer than this is split at sentence ends
FORMATS = ("epub", "md", "txt")
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；…])[\"'”’)）」』]*\s+|(?<=[。！？；])")
_TEXT_HEADING = re.compile(
    r"^\s*((chapter|part|book|prologue|epilogue|preface|introduction|afterword)\b[^\n]{0,80}"
    r"|第[0-9零一二三四五六七八九十百千两]{1,9}[章回节卷部][^\n]{0,40})\s*$",
    re.IGNORECASE,
)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class BookError(InputError):
    """A book that cannot be read: the message says why and what to do."""

    kind = "invalid_book"


@dataclass(frozen=True)
class Chapter:
    title: str
    segments: tuple[str, ...]  # what to speak, in order; the first is the title when it is spoken


@dataclass(frozen=True)
class Book:
    title: str
    chapters: tuple[Chapter, ...]

    @property
    def characters(self) -> int:
        return sum(len(s) for c in self.chapters for s in c.segments)


def book_format(name: str) -> str:
    """``epub``, ``md`` or ``txt`` from a file name; ``BookError`` for anything else."""
    suffix = PurePosixPath(name.lower()).suffix.lstrip(".")
    fmt = {"markdown": "md", "text": "txt"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise BookError(f"cannot read {name!r} as a book; give an .epub, .md or .txt file")
    return fmt


def read_book(data: bytes, fmt: str, title: str = "") -> Book:
    """The chapters of a book given as bytes in ``fmt`` (see ``FORMATS``)."""
    if fmt == "epub":
        book = _read_epub(data)
    else:
        text = _decode_text(data)
        found, chapters = _markdown_chapters(text) if fmt == "md" else ("", _text_chapters(text))
        book = Book(found, tuple(c for c in chapters if c.segments))
    if not book.chapters:
        raise BookError("the book has no text to speak")
    return Book(title or book.title or book.chapters[0].title, book.chapters)


def split_segments(paragraphs: list[str]) -> tuple[str, ...]:
    """Paragraphs as segments of at most ``MAX_SEGMENT_CHARS`` (longer ones cut at sentence ends, or at
    spaces if a sentence is longer still)."""
    segments: list[str] = []
    for paragraph in paragraphs:
        text = " ".join(paragraph.split())
        if not text:
            continue
        current = ""
        for sentence in _pieces(text):
            if current and len(current) + 1 + len(sentence) > MAX_SEGMENT_CHARS:
                segments.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}" if current and not _cjk(current[-1]) else current + sentence
        if current:
            segments.append(current)
    return tuple(segments)


def _pieces(text: str) -> list[str]:
    pieces = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        while len(sentence) > MAX_SEGMENT_CHARS:
            cut = sentence.rfind(" ", 0, MAX_SEGMENT_CHARS)
            cut = cut if cut > 0 else MAX_SEGMENT_CHARS
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    return pieces


def _cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def _chapter(title: str, paragraphs: list[str]) -> Chapter:
    spoken = [title] if title and (not paragraphs or paragraphs[0].strip() != title) else []
    return Chapter(title, split_segments([*spoken, *paragraphs]))


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BookError("this file is binary, not text; give an .epub, .md or .txt file")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BookError("the text is not UTF-8; save it as UTF-8 and try again")


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated paragraphs."""
    return [p for p in re.split(r"\n\s*\n", "\n".join(lines)) if p.strip()]


def _text_chapters(text: str) -> list[Chapter]:
    chapters: list[Chapter] = []
    title, lines = "", []
    for line in text.splitlines():
        if _TEXT_HEADING.match(line) and len(line.strip()) <= 90:
            if title or any(x.strip() for x in lines):
                chapters.append(_chapter(title, _paragraphs(lines)))
            title, lines = line.strip(), []
        else:
            lines.append(line)
    chapters.append(_chapter(title, _paragraphs(lines)))
    return [c if c.title else Chapter(f"Part {i}" if len(chapters) > 1 else "Text", c.segments)
            for i, c in enumerate(chapters, start=1)]  # fmt: skip


def _markdown_chapters(text: str) -> tuple[str, list[Chapter]]:
    """The book's title (a lone top heading above the chapter headings) and its chapters."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    levels = [len(m.group(1)) for line in lines if (m := _MD_HEADING.match(line))]
    # Chapters at the highest heading level used more than once (a lone "# Title" above "## Chapter"s).
    level = min((lv for lv in set(levels) if levels.count(lv) > 1), default=min(levels, default=1))
    chapters: list[Chapter] = []
    book_title, title, body = "", "", []
    for line in lines:
        match = _MD_HEADING.match(line)
        if match and len(match.group(1)) < level and not (chapters or title or any(x.strip() for x in body)):
            book_title = _markdown_inline(match.group(2))
        elif match and len(match.group(1)) <= level:
            if title or any(x.strip() for x in body):
                chapters.append(_chapter(title, _paragraphs(body)))
            title, body = _markdown_inline(match.group(2)), []
        elif match:
            body += ["", _markdown_inline(match.group(2)), ""]
        else:
            body.append(_markdown_inline(line))
    chapters.append(_chapter(title, _paragraphs(body)))
    return book_title, [c if c.title else Chapter(f"Part {i}", c.segments) for i, c in enumerate(chapters, start=1)]


def _markdown_inline(line: str) -> str:
    line = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", line)  # images
    line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # links: their text
    line = re.sub(r"<[^>]+>", "", line)  # inline HTML
    line = re.sub(r"^\s*(?:[-*+]|\d+[.)]|>+)\s+", "", line)  # list items, quotes
    line = re.sub(r"^\s*([-*_]\s*){3,}$", "", line)  # rules
    return re.sub(r"(\*\*|__|\*|`|~~)", "", line)


# -- EPUB ----------------------------------------------------------------------------------------------


def _read_epub(data: bytes) -> Book:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BookError(f"this EPUB is damaged (not a readable zip archive: {exc})") from exc
    with archive:
        _refuse_drm(archive, names)
        container = _xml(archive, "META-INF/container.xml")
        rootfile = next((e.get("full-path") for e in container.iter() if _local(e.tag) == "rootfile"), None)
        if not rootfile or rootfile not in names:
            raise BookError("this EPUB is damaged: its package document (the .opf named by container.xml) is missing")
        opf = _xml(archive, rootfile)
        base = posixpath.dirname(rootfile)
        manifest = {e.get("id"): e for e in opf.iter() if _local(e.tag) == "item" and e.get("id") and e.get("href")}
        titles = _toc_titles(archive, opf, manifest, base)
        book_title = next((" ".join((e.text or "").split()) for e in opf.iter() if _local(e.tag) == "title"), "")
        chapters = []
        for ref in (e for e in opf.iter() if _local(e.tag) == "itemref"):
            item = manifest.get(ref.get("idref"))
            if item is None or ref.get("linear") == "no" or "html" not in (item.get("media-type") or ""):
                continue
            path = _join(base, item.get("href", ""))
            if path not in names:
                raise BookError(f"this EPUB is damaged: its spine names {path!r}, which is not in the archive")
            heading, paragraphs = _xhtml_text(_read(archive, path))
            title = titles.get(path) or heading
            chapter = _chapter(title, paragraphs) if paragraphs else None
            if chapter and chapter.segments:
                chapters.append(chapter if title else Chapter(f"Chapter {len(chapters) + 1}", chapter.segments))
    return Book(book_title, tuple(chapters))


def _refuse_drm(archive: zipfile.ZipFile, names: set[str]) -> None:
    if "META-INF/rights.xml" in names:
        raise BookError("this EPUB is DRM-protected (META-INF/rights.xml); Parrot can only read DRM-free books")
    if "META-INF/encryption.xml" in names:
        encryption = _xml(archive, "META-INF/encryption.xml")
        methods = {e.get("Algorithm") for e in encryption.iter() if _local(e.tag) == "EncryptionMethod"}
        if methods - _FONT_OBFUSCATION:
            raise BookError(
                "this EPUB is DRM-protected (META-INF/encryption.xml encrypts its content); "
                "Parrot can only read DRM-free books"
            )


def _toc_titles(
    archive: zipfile.ZipFile, opf: ElementTree.Element, manifest: dict[str | None, ElementTree.Element], base: str
) -> dict[str, str]:
    """Content file -> its first title in the table of contents (EPUB 3 nav, else the EPUB 2 NCX)."""
    nav = next((e for e in manifest.values() if "nav" in (e.get("properties") or "").split()), None)
    spine = next((e for e in opf.iter() if _local(e.tag) == "spine"), None)
    ncx = manifest.get(spine.get("toc")) if spine is not None else None
    titles: dict[str, str] = {}
    for item, link_tag in ((nav, "a"), (ncx, "navPoint")):
        if item is None:
            continue
        path = _join(base, item.get("href", ""))
        try:
            root = _xml(archive, path)
        except BookError:
            continue  # a broken table of contents: titles come from the chapters' headings
        folder = posixpath.dirname(path)
        for link in root.iter():
            if _local(link.tag) != link_tag:
                continue
            if link_tag == "a":
                href, text = link.get("href"), "".join(link.itertext())
            else:
                content = next((e for e in link.iter() if _local(e.tag) == "content"), None)
                label = next((e for e in link.iter() if _local(e.tag) == "text"), None)
                href = content.get("src") if content is not None else None
                text = "".join(label.itertext()) if label is not None else ""
            if href and text.strip():
                titles.setdefault(_join(folder, href.split("#")[0]), " ".join(text.split()))
        if titles:
            break
    return titles


def _join(folder: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(folder, unquote(href)))


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError as exc:
        raise BookError(f"this EPUB is damaged: {name} is missing") from exc
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BookError(f"this EPUB is damaged: {name} cannot be read ({exc})") from exc


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    data = _read(archive, name)
    if b"<!ENTITY" in data:
        raise BookError(f"this EPUB is damaged or hostile: {name} declares XML entities")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise BookError(f"this EPUB is damaged: {name} is not well-formed XML ({exc})") from exc


_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "br", "tr", "section", "dd", "dt",
           "pre", "figcaption", "td", "th", "article", "aside", "header", "footer", "hr"}  # fmt: skip
_SKIPPED = {"head", "script", "style", "title", "nav", "svg", "math", "rt", "rp"}


class _XhtmlText(HTMLParser):
    """Paragraphs of an XHTML page (block elements), and its first heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.heading = ""
        self._current: list[str] = []
        self._skip = 0
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in _BLOCKS:
            self._flush()
            self._in_heading = tag in ("h1", "h2", "h3") and not self.heading

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._current.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        self._current = []
        if text:
            self.paragraphs.append(text)
            if self._in_heading:
                self.heading = text
        self._in_heading = False


def _xhtml_text(data: bytes) -> tuple[str, list[str]]:
    parser = _XhtmlText()
    try:
        parser.feed(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise BookError(f"this EPUB is damaged: a chapter is not UTF-8 text ({exc})") from exc
    parser.close()
    parser._flush()
    return parser.heading, parser.paragraphs
