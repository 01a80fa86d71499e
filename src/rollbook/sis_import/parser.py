"""Streaming parser of IMS Enterprise 1.1 feeds: Banner extracts and Luminis Message Broker
(LMB) messages.

`iter_records(stream)` yields a record per <person>, <group> and <membership>, in file order,
with memory flat whatever the file's size: each finished record's elements are cleared and
dropped. A record the parser cannot read (a required field missing, a bad date or value)
comes as a `RecordError` and the parser goes on. A problem with the whole file raises
`FeedError`, possibly after records were yielded: the caller stages into a transaction (or a
temporary area) and applies nothing of a feed that raised.

What is accepted, since Banner writes it:
- no root element: several top-level <enterprise> elements, or bare <person>, <group> and
  <membership> elements; the parser feeds the file inside a synthetic root element;
- no line breaks at all; a default namespace (elements are matched on local names);
- an XML declaration naming UTF-8, ISO-8859-1, windows-1252 or another ASCII-compatible
  encoding (transcoded to UTF-8 on the way in), a UTF-8 BOM, UTF-16 and UTF-32 (BOM or
  '<?' pattern). ISO-8859-1 is read as windows-1252, as browsers do: Banner labels its
  windows-1252 text (curly quotes, dashes) ISO-8859-1, and real C1 control characters are
  never meant;
- <properties>, <comments> and unknown elements are skipped.

What is refused (FeedError):
- HOSTILE_XML: a DOCTYPE, any markup declaration (<!ENTITY ...>), any reference to an entity
  other than the five predefined ones. The raw text is searched before the XML parser sees
  it, so nothing is expanded or fetched (lxml also runs with resolve_entities, DTD loading
  and network off). A literal "<!DOCTYPE" or "<!ENTITY" inside a comment or CDATA section
  is refused too: a false alarm there is better than a missed one;
- MALFORMED_XML with the line and column; ENCODING (bytes invalid in the declared encoding,
  with the line); TOO_LARGE past `max_bytes`; EMPTY_FEED when there is no IMS element at all
  (so that an empty or foreign file never reads as "the SIS has no one").

Line numbers are the file's own. libxml2 keeps an element's line only up to 65,534, so the
parser counts lines itself: it cuts the text just before each <person>, <group>,
<membership> and <member> start tag and feeds the pieces one by one, so the start event of
such an element comes in the feed of the piece that begins with it. Lines are counted as
LF characters (CRLF files are right; old Mac CR-only files report line 1).
"""

from __future__ import annotations

import codecs
import io
import queue
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeAlias, cast

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from rollbook.sis_import.data import (
    MemberRecord,
    MembershipRecord,
    Record,
    RecordError,
    RecordKind,
)
from rollbook.sis_import.elements import (
    InvalidRecord,
    children_of,
    group_record,
    local_name,
    member_parts,
    person_record,
    role_record,
    sourcedid_of,
)
from rollbook.sis_import.errors import (
    MSG_BAD_BYTES,
    MSG_BAD_DECLARATION,
    MSG_EMPTY_FEED,
    MSG_HOSTILE_DOCTYPE,
    MSG_HOSTILE_ENTITY,
    MSG_HOSTILE_NODE,
    MSG_MALFORMED_XML,
    MSG_MALFORMED_XML_NOWHERE,
    MSG_MISSING_SOURCEDID,
    MSG_MIXED_ENCODING,
    MSG_STRAY_TEXT,
    MSG_TOO_LARGE,
    MSG_UNKNOWN_ENCODING,
    MSG_UNUSABLE_ENCODING,
    FeedError,
    SisErrorCode,
)

__all__ = ["CHUNK_SIZE", "iter_records", "parse_message"]

Element: TypeAlias = Any  # lxml.etree._Element

CHUNK_SIZE = 1 << 20  # bytes read from the stream at a time
_HEAD_SIZE = 4096  # bytes read before deciding the encoding (BOM, XML declaration)
_MAX_CARRY = 4 * CHUNK_SIZE  # past this a block is fed even if it may end inside a tag
_ROOT_TAG = "rollbook-feed"
_ROOT_OPEN = b"<rollbook-feed>"
_ROOT_CLOSE = b"</rollbook-feed>"
_RECORD_TAGS = frozenset({"person", "group", "membership", "member"})
_EVENT_TAGS = ("{*}person", "{*}group", "{*}membership", "{*}member", "{*}enterprise")
# Start tags of the elements whose line is reported (any namespace prefix).
_LINE_TAG = re.compile(rb"<(?:[^\s<>/:!?=\"']+:)?(?:person|group|membership|member)(?=[\s/>])")
_MARKUP_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)")
# An XML declaration: at the start of the file (maybe after white space), or later on in a
# file made of several documents one after the other.
_XML_DECLARATION = re.compile(rb"[ \t\r\n]*<\?xml[ \t\r\n][^<>]*\?>")
_XML_DECLARATION_START = re.compile(rb"[ \t\r\n]*<\?xml[ \t\r\n]")
_LATER_DECLARATION = re.compile(rb"<\?xml[ \t\r\n][^<>]*\?>")
_ENCODING_ATTRIBUTE = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')""")
_NOT_NEWLINE = re.compile(rb"[^\r\n]")
_QUOTED = re.compile(r"'([^']*)'")

_ENTITY_ERRORS = frozenset(
    {etree.ErrorTypes.ERR_UNDECLARED_ENTITY, etree.ErrorTypes.WAR_UNDECLARED_ENTITY}
)
_ENCODING_ERRORS = frozenset(
    {etree.ErrorTypes.ERR_INVALID_ENCODING, etree.ErrorTypes.ERR_UNSUPPORTED_ENCODING}
)

_BOMS = (  # UTF-32 first: its little-endian BOM starts like UTF-16's
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_WIDE_PATTERNS = (  # "<" or "<?" without a BOM (XML 1.0, appendix F)
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_WINDOWS_1252 = "windows-1252"
# windows-1252, with the five bytes it leaves undefined read as in ISO-8859-1.
_WINDOWS_1252_TABLE = "".join(
    bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(256)
)


def iter_records(
    stream: BinaryIO,
    *,
    max_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Record]:
    """The records of an IMS Enterprise feed read from a binary stream, in file order.

    `progress(bytes_read)` is called after each read of the stream. Raises FeedError (after
    having yielded the records before the problem) when the feed as a whole is unusable.
    """
    yield from _Parser(_Source(stream, max_bytes=max_bytes, progress=progress)).records()


_END = object()
_CHUNK_RECORDS = 256


def read_ahead(records: Iterator[Record], *, depth: int = 16) -> Iterator[Record]:
    """`records`, parsed on a background thread up to `depth` chunks ahead of the consumer.

    While the consumer waits on the database (psycopg and sqlite3 release the GIL during a
    statement), the next records are being parsed: staging a big file overlaps its database
    time with its parsing. Errors (FeedError) reach the consumer in order, after the records
    before them. The consumer stopping early stops the thread.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        chunk: list[Record] = []
        try:
            for record in records:
                chunk.append(record)
                if len(chunk) >= _CHUNK_RECORDS:
                    if not put(chunk):
                        return
                    chunk = []
            if put(chunk):
                put(_END)
        except BaseException as exc:  # handed to the consumer after the records before it
            if put(chunk):
                put(exc)

    thread = threading.Thread(target=produce, name="sis-parse", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield from cast(list[Record], item)
    finally:
        stop.set()
        thread.join(timeout=10)


def parse_message(body: bytes, *, max_bytes: int) -> list[Record]:
    """The records of one live LMB message (same rules as a file)."""
    if len(body) > max_bytes:
        raise FeedError(SisErrorCode.TOO_LARGE, MSG_TOO_LARGE.format(limit=max_bytes))
    return list(iter_records(io.BytesIO(body), max_bytes=max_bytes))


# ---------------------------------------------------------------- bytes in


class _Source:
    """The raw stream, counted: progress callbacks and the size limit."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        max_bytes: int | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._progress = progress
        self.consumed = 0

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        data = self._stream.read(size) or b""
        if data:
            self.consumed += len(data)
            if self._max_bytes is not None and self.consumed > self._max_bytes:
                raise FeedError(SisErrorCode.TOO_LARGE, MSG_TOO_LARGE.format(limit=self._max_bytes))
            if self._progress is not None:
                self._progress(self.consumed)
        return data

    def read_head(self) -> bytes:
        head = b""
        while len(head) < _HEAD_SIZE:
            data = self.read(CHUNK_SIZE)
            if not data:
                break
            head += data
        return head


class _Decoder:
    """Bytes in the feed's encoding in, UTF-8 out. UTF-8 is only checked and passed on."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.lines = 0  # LF characters put out so far, for the line of a decoding error
        self._incremental: codecs.IncrementalDecoder | None = None
        if codec != _WINDOWS_1252:
            self._incremental = codecs.getincrementaldecoder(codec)(errors="strict")

    def __call__(self, data: bytes, *, final: bool = False) -> bytes:
        try:
            if self._incremental is None:
                out = codecs.charmap_decode(data, "strict", _WINDOWS_1252_TABLE)[0].encode()
            elif self.codec == "utf-8":
                self._incremental.decode(data, final)
                out = data
            else:
                out = self._incremental.decode(data, final).encode()
        except UnicodeDecodeError as exc:
            before = exc.object[: exc.start].decode(self.codec, errors="replace")
            line = self.lines + before.count("\n") + 1
            raise FeedError(
                SisErrorCode.ENCODING,
                MSG_BAD_BYTES.format(line=line, encoding=self.codec, detail=exc.reason),
                line=line,
            ) from None
        self.lines += out.count(b"\n")
        return out


def _codec_for(declared: str | None) -> str:
    """The codec for the encoding an XML declaration names, in an ASCII-compatible file."""
    if not declared:
        return "utf-8"
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        raise FeedError(
            SisErrorCode.ENCODING, MSG_UNKNOWN_ENCODING.format(encoding=declared), line=1
        ) from None
    if name in ("utf-8", "utf-8-sig") or name.startswith(("utf-16", "utf-32")):
        # Labelled UTF-16/32 but the bytes are ASCII-compatible: read as UTF-8, as libxml2 does.
        return "utf-8"
    if name in ("iso8859-1", "cp1252"):
        return _WINDOWS_1252
    try:
        usable = "<?xml".encode(name) == b"<?xml" and b"<?xml".decode(name) == "<?xml"
    except (LookupError, UnicodeError):  # not a text encoding (base64, rot13...)
        usable = False
    if not usable:
        raise FeedError(
            SisErrorCode.ENCODING, MSG_UNUSABLE_ENCODING.format(encoding=declared), line=1
        )
    return name


def _declared_encoding(head: bytes) -> str | None:
    """The encoding an XML declaration at the start of `head` names, if any."""
    declaration = _XML_DECLARATION.match(head)
    if declaration is None:
        if _XML_DECLARATION_START.match(head):
            raise FeedError(SisErrorCode.MALFORMED_XML, MSG_BAD_DECLARATION, line=1, column=1)
        return None
    match = _ENCODING_ATTRIBUTE.search(declaration[0])
    if match is None:
        return None
    return (match[1] or match[2] or b"").decode("ascii", errors="replace").strip()


class _Utf8:
    """The document as UTF-8 blocks, without its BOM, its XML declaration blanked out
    (spaces, the same line breaks: line and column numbers stay the file's)."""

    def __init__(self, source: _Source) -> None:
        self._source = source
        self.codec = "utf-8"
        self.wide = False  # UTF-16 or UTF-32

    def __iter__(self) -> Iterator[bytes]:
        head = self._source.read_head()
        codec: str | None = None
        skip = 0
        for bom, name in _BOMS:
            if head.startswith(bom):
                codec, skip = name, len(bom)
                break
        else:
            for pattern, name in _WIDE_PATTERNS:
                if head.startswith(pattern):
                    codec = name
                    break
        self.wide = codec is not None and codec.startswith(("utf-16", "utf-32"))
        if codec is None:  # ASCII-compatible: the XML declaration says which encoding
            codec = _codec_for(_declared_encoding(head))
        self.codec = codec
        decode = _Decoder(codec)
        first = decode(head[skip:])
        match = _XML_DECLARATION.match(first)
        if match is not None:
            first = _NOT_NEWLINE.sub(b" ", match[0]) + first[match.end() :]
        elif _XML_DECLARATION_START.match(first):
            raise FeedError(SisErrorCode.MALFORMED_XML, MSG_BAD_DECLARATION, line=1, column=1)
        yield first
        while data := self._source.read(CHUNK_SIZE):
            yield decode(data)
        yield decode(b"", final=True)

    def blank_declarations(self, block: bytes, lines_before: int) -> bytes:
        """Blank the XML declarations of files concatenated into this one (several
        <enterprise> messages one after the other); one naming another encoding than the
        file's is refused, since its text would be misread."""
        for match in _LATER_DECLARATION.finditer(block):
            declared = _declared_encoding(match[0])
            if declared and not self._same_encoding(declared):
                line = lines_before + block.count(b"\n", 0, match.start()) + 1
                raise FeedError(
                    SisErrorCode.ENCODING,
                    MSG_MIXED_ENCODING.format(encoding=declared, line=line),
                    line=line,
                )
            start, end = match.span()
            block = block[:start] + _NOT_NEWLINE.sub(b" ", match[0]) + block[end:]
        return block

    def _same_encoding(self, declared: str) -> bool:
        if self.wide:
            return declared.lower().replace("-", "").startswith(("utf16", "utf32"))
        try:
            return _codec_for(declared) == self.codec
        except FeedError:
            return False


def _aligned(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The same bytes in blocks that end just before a '<': no tag, markup declaration or
    start tag searched for is ever cut in two."""
    carry = b""
    for block in blocks:
        if carry:
            block = carry + block
        cut = block.rfind(b"<")
        if cut > 0:
            carry = block[cut:]
            yield block[:cut]
        elif cut == 0 and len(block) < _MAX_CARRY:
            carry = block  # a tag cut short, or a text after it: wait for more
        else:  # no '<' at all, or a text of megabytes: pass it all on
            carry = b""
            if block:
                yield block
    if carry:
        yield carry


# ---------------------------------------------------------------- the parse


class _Parser:
    def __init__(self, source: _Source) -> None:
        self._source = source
        self._xml = etree.XMLPullParser(
            events=("start", "end"),
            tag=_EVENT_TAGS,
            encoding="utf-8",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        self._lines = 0  # LF characters fed so far
        self._line = 1  # line of the last <person|group|membership|member> start tag fed
        self._starts: list[int] = []  # lines of the open elements that have events
        self._amp_before = False
        self._saw_content = False
        self._at_end = False  # feeding the synthetic root's end tag
        self._members: list[MemberRecord] = []
        self._member_errors: list[tuple[int, SisErrorCode, str]] = []

    def records(self) -> Iterator[Record]:
        yield from self._feed(_ROOT_OPEN)
        utf8 = _Utf8(self._source)
        for block in _aligned(iter(utf8)):
            self._refuse_declarations(block)
            if b"<?xml" in block:
                block = utf8.blank_declarations(block, self._lines)
            pos = 0
            for match in _LINE_TAG.finditer(block):
                start = match.start()
                if start > pos:
                    yield from self._feed(block[pos:start])
                self._lines += block.count(b"\n", pos, start)
                self._line = self._lines + 1
                pos = start
            if pos < len(block):
                yield from self._feed(block[pos:])
            self._lines += block.count(b"\n", pos)
        self._at_end = True
        yield from self._feed(_ROOT_CLOSE)
        try:
            root = self._xml.close()
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None
        yield from self._events()
        self._finish(root)

    # ------------------------------------------------------------ feeding libxml2

    def _refuse_declarations(self, block: bytes) -> None:
        match = _MARKUP_DECLARATION.search(block)
        if match is not None:
            line = self._lines + block.count(b"\n", 0, match.start()) + 1
            raise FeedError(
                SisErrorCode.HOSTILE_XML,
                MSG_HOSTILE_DOCTYPE.format(markup=f"<!{match[1].decode()}", line=line),
                line=line,
            )

    def _feed(self, piece: bytes) -> Iterator[Record]:
        try:
            self._xml.feed(piece)
        except etree.XMLSyntaxError as exc:
            raise self._syntax_error(exc) from None
        # With resolve_entities=False lxml swallows "undeclared entity" errors instead of
        # raising them; look for them in the log whenever an '&' went by.
        amp = b"&" in piece
        if amp or self._amp_before:
            self._raise_logged_error()
        self._amp_before = amp
        yield from self._events()

    def _raise_logged_error(self) -> None:
        for entry in self._xml.feed_error_log:
            if entry.level >= etree.ErrorLevels.ERROR or entry.type in _ENTITY_ERRORS:
                raise self._log_error(entry)

    def _syntax_error(self, exc: Any) -> FeedError:
        for entry in self._xml.feed_error_log:
            if entry.level >= etree.ErrorLevels.ERROR or entry.type in _ENTITY_ERRORS:
                return self._log_error(entry)
        line, column = exc.position
        return self._malformed(line, column, str(exc.msg))

    def _log_error(self, entry: Any) -> FeedError:
        column = self._file_column(entry.line, entry.column)
        if entry.type in _ENTITY_ERRORS:
            found = _QUOTED.search(entry.message)
            return FeedError(
                SisErrorCode.HOSTILE_XML,
                MSG_HOSTILE_ENTITY.format(
                    name=found[1] if found else "?", line=entry.line, column=column
                ),
                line=entry.line,
                column=column,
            )
        if entry.type in _ENCODING_ERRORS:
            return FeedError(
                SisErrorCode.ENCODING,
                MSG_BAD_BYTES.format(line=entry.line, encoding="UTF-8", detail=entry.message),
                line=entry.line,
                column=column,
            )
        return self._malformed(entry.line, entry.column, entry.message)

    def _file_column(self, line: int, column: int) -> int:
        """libxml2's column on the file's first line counts the synthetic root's start tag, on
        its last line (at the end of the file) the root's end tag."""
        if line == self._lines + 1 and self._at_end:
            column -= len(_ROOT_CLOSE)
        if line == 1:
            column -= len(_ROOT_OPEN)
        return max(1, column)

    def _malformed(self, line: int, column: int, detail: str) -> FeedError:
        detail = detail.strip().replace(f"and {_ROOT_TAG}", "and the end of the file")
        detail = detail.replace(_ROOT_TAG, "the feed")
        if line <= 0:  # libxml2 gave no position
            return FeedError(
                SisErrorCode.MALFORMED_XML, MSG_MALFORMED_XML_NOWHERE.format(detail=detail)
            )
        column = self._file_column(line, column)
        return FeedError(
            SisErrorCode.MALFORMED_XML,
            MSG_MALFORMED_XML.format(line=line, column=column, detail=detail),
            line=line,
            column=column,
        )

    # ------------------------------------------------------------ events

    def _events(self) -> Iterator[Record]:
        for event, elem in self._xml.read_events():
            if event == "start":
                self._starts.append(self._line)
                continue
            line = self._starts.pop()
            name = local_name(elem.tag)
            parent = elem.getparent()
            if name == "member":
                if local_name(parent.tag) == "membership" and _at_top(parent):
                    self._add_member(elem, line)
                    elem.clear()
                    previous = elem.getprevious()
                    while previous is not None and local_name(previous.tag) == "member":
                        parent.remove(previous)
                        previous = elem.getprevious()
                continue
            if not _at_top(elem):  # inside something unknown: not a record of the feed
                if not _inside_record(elem):  # (a record's own content waits for its end)
                    self._prune(elem, parent)
                continue
            self._saw_content = True
            if name == "person":
                yield self._record(RecordKind.PERSON, person_record, elem, line)
            elif name == "group":
                yield self._record(RecordKind.GROUP, group_record, elem, line)
            elif name == "membership":
                yield from self._membership(elem, line)
            self._prune(elem, parent)

    def _record(
        self,
        kind: RecordKind,
        build: Callable[[Element, int], Record],
        elem: Element,
        line: int,
    ) -> Record:
        try:
            return build(elem, line)
        except InvalidRecord as exc:
            return RecordError(line, kind, exc.record_id, exc.code, exc.message)

    def _add_member(self, elem: Element, line: int) -> None:
        try:
            sourcedid, idtype, roles = member_parts(elem)
        except InvalidRecord as exc:
            self._member_errors.append((line, exc.code, exc.message))
            return
        for role in roles:
            try:
                self._members.append(role_record(role, sourcedid, idtype))
            except InvalidRecord as exc:
                self._member_errors.append((line, exc.code, exc.message))

    def _membership(self, elem: Element, line: int) -> Iterator[Record]:
        group_id = ""
        for name, child in children_of(elem):
            if name == "sourcedid" and not group_id:
                group_id = sourcedid_of(child)[1]
        members, errors = self._members, self._member_errors
        self._members, self._member_errors = [], []
        if not group_id:
            yield RecordError(
                line,
                RecordKind.MEMBERSHIP,
                "",
                SisErrorCode.MISSING_FIELD,
                MSG_MISSING_SOURCEDID.format(kind="membership"),
            )
            return
        yield MembershipRecord(group_id, tuple(members), line)
        for member_line, code, message in errors:
            yield RecordError(member_line, RecordKind.MEMBERSHIP, group_id, code, message)

    def _prune(self, elem: Element, parent: Element) -> None:
        """Drop a finished top-level element's content and everything before it."""
        elem.clear()
        at_root = parent.getparent() is None
        if at_root:
            _refuse_stray_text(parent.text)
        while elem.getprevious() is not None:
            if at_root:
                _refuse_stray_text(parent[0].tail)
            del parent[0]

    def _finish(self, root: Element) -> None:
        _refuse_stray_text(root.text)
        for child in root:
            _refuse_stray_text(child.tail)
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise FeedError(SisErrorCode.HOSTILE_XML, MSG_HOSTILE_NODE)
        if not self._saw_content:
            raise FeedError(SisErrorCode.EMPTY_FEED, MSG_EMPTY_FEED)


def _refuse_stray_text(text: str | None) -> None:
    if text and not text.replace("\ufeff", " ").isspace():  # BOMs of concatenated files
        raise FeedError(SisErrorCode.MALFORMED_XML, MSG_STRAY_TEXT.format(text=text.strip()[:40]))


def _at_top(elem: Element) -> bool:
    """Directly in the synthetic root or in an <enterprise>."""
    parent = elem.getparent()
    return parent is not None and (
        parent.getparent() is None or local_name(parent.tag) == "enterprise"
    )


def _inside_record(elem: Element) -> bool:
    return any(local_name(ancestor.tag) in _RECORD_TAGS for ancestor in elem.iterancestors())


# ---------------------------------------------------------------- elements to records
