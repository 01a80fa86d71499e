"""Error codes of the SIS import: a whole feed refused (FeedError) or one record refused
(`data.RecordError`, which the parser yields and then goes on)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class SisErrorCode(StrEnum):
    # The whole file or message (FeedError): nothing of it may be applied.
    MALFORMED_XML = "malformed_xml"
    HOSTILE_XML = "hostile_xml"
    ENCODING = "encoding"
    TOO_LARGE = "too_large"
    EMPTY_FEED = "empty_feed"
    # A OneRoster CSV zip (FeedError with the member, line and column).
    NOT_A_ZIP = "not_a_zip"
    UNSAFE_ZIP = "unsafe_zip"
    NO_MANIFEST = "no_manifest"
    BAD_MANIFEST = "bad_manifest"
    BAD_HEADER = "bad_header"
    BAD_ROW = "bad_row"
    UNKNOWN_REFERENCE = "unknown_reference"
    # One record (RecordError): the others still count.
    MISSING_FIELD = "missing_field"
    BAD_DATE = "bad_date"
    BAD_VALUE = "bad_value"
    # Imports as jobs.
    ALREADY_IMPORTED = "already_imported"
    NOT_AN_IMPORT = "not_an_import"
    NOT_A_PREVIEW = "not_a_preview"
    STALE_PREVIEW = "stale_preview"
    # The live LMB endpoint.
    LMB_DISABLED = "lmb_disabled"
    NO_MESSAGE_ID = "no_message_id"
    LMB_APPLY_FAILED = "lmb_apply_failed"  # synchronous mode: the message failed
    NOT_HELD = "not_held"  # no held person (collision) with this id
    BAD_RESOLUTION = "bad_resolution"
    USERNAME_TAKEN = "username_taken"
    CROSSLIST_CONFLICT = "crosslist_conflict"  # a section in a second cross-list
    NO_DROP_HOLD = "no_drop_hold"  # no held drops for this term
    # The feed monitor.
    NO_ALERT_RECIPIENTS = "no_alert_recipients"


# FeedError messages.
MSG_MALFORMED_XML = "The XML is not well-formed at line {line}, column {column}: {detail}."
MSG_MALFORMED_XML_NOWHERE = "The XML is not well-formed: {detail}."
MSG_STRAY_TEXT = "The feed has text outside of any element: {text!r}."
MSG_BAD_DECLARATION = "The XML declaration at the start is not closed with '?>'."
MSG_HOSTILE_DOCTYPE = (
    "The feed holds a document type declaration ({markup}) at line {line}; DTDs and "
    "entity declarations are refused."
)
MSG_HOSTILE_ENTITY = (
    "The feed refers to the entity '{name}' at line {line}, column {column}; only the "
    "predefined entities (&amp; &lt; &gt; &quot; &apos;) and character references are allowed."
)
MSG_HOSTILE_NODE = "The feed holds an entity node or a DTD; entities and DTDs are refused."
MSG_UNKNOWN_ENCODING = "The XML declaration names the encoding '{encoding}', which is not known."
MSG_UNUSABLE_ENCODING = (
    "The XML declaration names the encoding '{encoding}', which cannot be read as declared."
)
MSG_MIXED_ENCODING = (
    "The XML declaration at line {line} names the encoding '{encoding}', not the one the "
    "file started with."
)
MSG_BAD_BYTES = "The bytes at line {line} are not valid {encoding}: {detail}."
MSG_TOO_LARGE = "The feed is larger than the limit of {limit} bytes."
MSG_EMPTY_FEED = "The feed holds no <enterprise>, <person>, <group> or <membership> element."

# RecordError messages.
MSG_MISSING_SOURCEDID = "The {kind} has no <sourcedid><id>."
MSG_MISSING_TYPEVALUE = "The group has no <grouptype><typevalue>."
MSG_MISSING_RELATIONSHIP_ID = "A <relationship> of the group has no <sourcedid><id>."
MSG_MISSING_MEMBER_ID = "A member of the membership has no <sourcedid><id>."
MSG_MISSING_IDTYPE = "The member '{member}' has no <idtype>."
MSG_MISSING_ROLE = "The member '{member}' has no <role>."
MSG_MISSING_ROLETYPE = "A role of the member '{member}' has no roletype."
MSG_BAD_DATE = "The date '{value}' in <{element}> is not a date of the form YYYY-MM-DD."
MSG_BAD_RECSTATUS = "The recstatus '{value}' is not 1 (add), 2 (update) or 3 (delete)."
MSG_BAD_IDTYPE = (
    "The member '{member}' has idtype '{value}'; only 1 (person) or 2 (group) are known."
)
MSG_BAD_STATUS = (
    "The member '{member}' has status '{value}'; only 1 (active) or 0 (inactive) are known."
)


class FeedError(Exception):
    """A problem with the whole file or message (malformed, hostile, wrongly encoded, too
    large): the caller must apply nothing of it, also not the records already yielded.

    `line` and `column` are the file's own (1-based), when known.
    """

    def __init__(
        self,
        code: SisErrorCode,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        file: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.file = file  # the member of a zip (OneRoster CSV), "" for the XML itself

    def as_dict(self) -> dict[str, Any]:
        where = {"file": self.file} if self.file else {}
        return {
            "code": self.code.value,
            "message": self.message,
            **where,
            "line": self.line,
            "column": self.column,
        }

    def __repr__(self) -> str:
        where = f"file={self.file!r}, line={self.line}, column={self.column}"
        return f"FeedError({self.code.value!r}, {self.message!r}, {where})"


MSG_LMB_DISABLED = "The LMB endpoint is switched off (ROLLBOOK_LMB_ENABLED)."
MSG_LMB_ADDRESS = "This address may not post LMB messages (ROLLBOOK_LMB_ALLOWED_IPS)."
MSG_LMB_CREDENTIALS = "LMB credentials are missing or wrong (HTTP Basic)."
MSG_NO_MESSAGE_ID = (
    "The message has no id header (RDI-Message-Id, RDI-Message-SeqNo, JMSMessageID or ldisp_id)."
)
MSG_NO_ALERT_RECIPIENTS = (
    "Nobody to mail: set ROLLBOOK_SIS_MONITOR_MAIL_TO to comma-separated email addresses."
)
MSG_NOT_HELD = "No SIS person with id {id} is held by an identity collision."
MSG_BAD_ACTION = "The action must be link_existing, create_with_username or ignore."
MSG_USERNAME_NEEDED = "create_with_username needs the username of the new account."
MSG_USERNAME_TAKEN = "The username '{username}' is taken: choose another, or link_existing."
MSG_CROSSLIST_CONFLICT = (
    "Section {section} is already in cross-list {first}; it cannot also join {second}."
)
MSG_NO_DROP_HOLD = "No drops are held for term {term}."
