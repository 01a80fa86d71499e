"""The SIS settings (settings.SIS, from ROLLBOOK_SIS_* variables) as one typed object."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

USERNAME_SOURCES = ("email_local", "email", "logon_id", "sctid", "email_id")
PERSON_DELETE_ACTIONS = ("nothing", "deactivate", "unenroll")
CROSSLIST_MODES = ("meta", "merge")
ONEROSTER_USERNAME_SOURCES = ("username", "email", "email_local", "sourcedid", "identifier")
LEARNER = "learner"


def _patterns(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _role_map(raw: str, *, pad: bool = True) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in raw.split(","):
        if ":" not in pair:
            continue
        code, outcome = (part.strip() for part in pair.split(":", 1))
        if code and outcome:
            mapping[code.zfill(2) if pad else code] = outcome
    return mapping


def _map(raw: Any, *, pad: bool = True) -> dict[str, str]:
    return dict(raw) if isinstance(raw, dict) else _role_map(str(raw), pad=pad)


@dataclass(frozen=True, slots=True)
class SisConfig:
    org: str
    username_source: str
    username_fallback_sourcedid: bool
    match_by_username: bool
    local_passwords: bool
    person_delete: str
    course_key_template: str
    course_title_template: str
    modes: tuple[str, ...]
    default_mode: str
    force_names: bool
    term_allow: tuple[str, ...]
    term_deny: tuple[str, ...]
    role_map: dict[str, str]
    drop_threshold: float
    max_file_bytes: int
    crosslist_mode: str = "meta"
    crosslist_key_template: str = "course-v1:{org}+{xlsid}+{term}"
    crosslist_title_template: str = "{xlsid} - {crn list}"
    crosslist_prefix: str = "XLS "
    live_drop_window_minutes: int = 60
    live_drop_minimum: int = 20
    external_id_org: str = ""
    external_id_source: str = "sctid"
    # OneRoster CSV zips (ADR 0016). Their enrollment roles are merged into `role_map` too
    # (the IMS roletypes win a clash), so the applier and drops need no second lookup.
    oneroster_role_map: dict[str, str] = field(default_factory=dict)
    oneroster_username_source: str = "username"
    oneroster_course_key_template: str = "auto"
    zip_max_members: int = 64
    zip_max_unzipped_bytes: int = 4 * 1024 * 1024 * 1024

    @classmethod
    def load(cls, **overrides: Any) -> SisConfig:
        raw: dict[str, Any] = dict(settings.SIS)
        raw.update({key.upper(): value for key, value in overrides.items()})
        source = str(raw["USERNAME_SOURCE"])
        if source not in USERNAME_SOURCES:
            raise ValueError(f"ROLLBOOK_SIS_USERNAME_SOURCE must be one of {USERNAME_SOURCES}")
        delete = str(raw["PERSON_DELETE"])
        if delete not in PERSON_DELETE_ACTIONS:
            raise ValueError(f"ROLLBOOK_SIS_PERSON_DELETE must be one of {PERSON_DELETE_ACTIONS}")
        oneroster_map = _map(raw.get("ONEROSTER_ROLE_MAP", ""), pad=False)
        oneroster_source = str(raw.get("ONEROSTER_USERNAME_SOURCE", "username"))
        if oneroster_source not in ONEROSTER_USERNAME_SOURCES:
            raise ValueError(
                f"ROLLBOOK_SIS_ONEROSTER_USERNAME_SOURCE must be one of "
                f"{ONEROSTER_USERNAME_SOURCES}"
            )
        crosslist_mode = str(raw.get("CROSSLIST_MODE", "meta"))
        if crosslist_mode not in CROSSLIST_MODES:
            raise ValueError(f"ROLLBOOK_SIS_CROSSLIST_MODE must be one of {CROSSLIST_MODES}")
        return cls(
            org=str(raw["ORG"]),
            username_source=source,
            username_fallback_sourcedid=bool(raw["USERNAME_FALLBACK_SOURCEDID"]),
            match_by_username=bool(raw["MATCH_BY_USERNAME"]),
            local_passwords=bool(raw["LOCAL_PASSWORDS"]),
            person_delete=delete,
            course_key_template=str(raw["COURSE_KEY_TEMPLATE"]),
            course_title_template=str(raw["COURSE_TITLE_TEMPLATE"]),
            modes=tuple(raw["MODES"]),
            default_mode=str(raw["DEFAULT_MODE"]),
            force_names=bool(raw["FORCE_NAMES"]),
            term_allow=_patterns(str(raw["TERM_ALLOW"])),
            term_deny=_patterns(str(raw["TERM_DENY"])),
            role_map={**oneroster_map, **_map(raw["ROLE_MAP"])},
            drop_threshold=float(raw["DROP_THRESHOLD"]),
            max_file_bytes=int(raw["MAX_FILE_BYTES"]),
            crosslist_mode=crosslist_mode,
            crosslist_key_template=str(
                raw.get("CROSSLIST_KEY_TEMPLATE", "course-v1:{org}+{xlsid}+{term}")
            ),
            crosslist_title_template=str(
                raw.get("CROSSLIST_TITLE_TEMPLATE", "{xlsid} - {crn list}")
            ),
            crosslist_prefix=str(raw.get("CROSSLIST_PREFIX", "XLS ")),
            live_drop_window_minutes=int(raw.get("LIVE_DROP_WINDOW_MINUTES", 60)),
            live_drop_minimum=int(raw.get("LIVE_DROP_MINIMUM", 20)),
            external_id_org=str(raw.get("EXTERNAL_ID_ORG", "")),
            external_id_source=str(raw.get("EXTERNAL_ID_SOURCE", "sctid")),
            oneroster_role_map=oneroster_map,
            oneroster_username_source=oneroster_source,
            oneroster_course_key_template=str(raw.get("ONEROSTER_COURSE_KEY_TEMPLATE", "auto")),
            zip_max_members=int(raw.get("ZIP_MAX_MEMBERS", 64)),
            zip_max_unzipped_bytes=int(raw.get("ZIP_MAX_UNZIPPED_BYTES", 4 * 1024**3)),
        )

    def term_allowed(self, term: str) -> bool:
        """Deny wins over allow; an empty allow list allows every term."""
        if any(fnmatch.fnmatchcase(term, pattern) for pattern in self.term_deny):
            return False
        if not self.term_allow:
            return True
        return any(fnmatch.fnmatchcase(term, pattern) for pattern in self.term_allow)
