"""people.api: case-insensitive users, validation, partial updates with audit, API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib.errors import Invalid, NotFound
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.people.models import ApiToken, User
from tests.factories import Make

pytestmark = pytest.mark.django_db


def events(subject: str, event: str | None = None) -> list[audit.AuditEventData]:
    """Oldest first."""
    return list(reversed(audit.list_events(subject=subject, event=event, page=PageRequest()).items))


def audit_count() -> int:
    return audit.list_events(page=PageRequest()).count


# ---------------------------------------------------------------- usernames


def test_username_is_case_insensitive_unique(actor: Actor) -> None:
    mary, created = people.put_user("Mary", actor=actor, email="mary@example.com")
    again, created_again = people.put_user("mary", actor=actor, name="Mary Smith")

    assert created is True
    assert created_again is False
    assert again.id == mary.id
    assert again.username == "Mary"  # stored as first given
    assert again.name == "Mary Smith"
    assert User.objects.count() == 1
    assert people.get_user("MARY") == again
    assert people.get_user_ref("mARy") == again.ref


def test_audit_subject_uses_the_stored_username(actor: Actor) -> None:
    people.put_user("Mary", actor=actor)
    people.put_user("MARY", actor=actor, name="M")
    assert [e.event for e in events("user:Mary")] == ["user.created", "user.updated"]
    assert events("user:MARY") == []


def test_unknown_user_is_not_found() -> None:
    with pytest.raises(NotFound) as by_get:
        people.get_user("nobody")
    with pytest.raises(NotFound) as by_ref:
        people.get_user_ref("nobody")
    assert by_get.value.code == by_ref.value.code == "user_not_found"
    assert by_get.value.status == 404


@pytest.mark.parametrize(
    "username",
    ["", "mary smith", "mary/1", "märy", "mary\n", "\nmary", "x" * 151, "mary;drop", "a:b"],
)
def test_invalid_username(actor: Actor, username: str) -> None:
    with pytest.raises(Invalid) as raised:
        people.put_user(username, actor=actor)
    assert raised.value.code == "invalid_username"
    assert raised.value.status == 422
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["m", "mary.smith", "mary_s-1", "m@x.org", "a+b", "x" * 150])
def test_valid_usernames(actor: Actor, username: str) -> None:
    user, created = people.put_user(username, actor=actor)
    assert created
    assert user.username == username


# ---------------------------------------------------------------- emails and fields


@pytest.mark.parametrize("email", ["not-an-email", "mary@", "@example.com", "mary@exa mple.com"])
def test_bad_email_is_invalid(actor: Actor, email: str) -> None:
    with pytest.raises(Invalid) as raised:
        people.put_user("mary", actor=actor, email=email)
    assert raised.value.code == "invalid_email"
    assert not User.objects.exists()


def test_bad_email_on_update_changes_nothing(actor: Actor) -> None:
    Make.user("mary", email="mary@example.com")
    events_before = audit_count()
    with pytest.raises(Invalid):
        people.put_user("mary", actor=actor, email="nope", name="Changed")
    assert people.get_user("mary").email == "mary@example.com"
    assert people.get_user("mary").name == ""
    assert audit_count() == events_before


def test_new_user_defaults(actor: Actor) -> None:
    user, _ = people.put_user("mary", actor=actor)
    assert (user.email, user.name, user.idnumber, user.sis_sourcedid) == ("", "", "", "")
    assert user.is_active is True
    assert user.is_staff is False
    assert user.is_superuser is False
    assert user.allow_certificate is True
    assert user.date_joined.tzinfo is not None


def test_partial_update_leaves_other_fields(actor: Actor) -> None:
    people.put_user(
        "mary",
        actor=actor,
        email="mary@example.com",
        name="Mary",
        idnumber="S1",
        sis_sourcedid="src-1",
        allow_certificate=False,
        is_staff=True,
    )

    updated, _ = people.put_user("mary", actor=actor, name="Mary Smith")

    assert updated.name == "Mary Smith"
    assert updated.email == "mary@example.com"
    assert updated.idnumber == "S1"
    assert updated.sis_sourcedid == "src-1"
    assert updated.allow_certificate is False
    assert updated.is_staff is True
    assert updated.is_active is True
    assert people.get_user("mary") == updated


def test_profile_only_update_is_stored(actor: Actor) -> None:
    Make.user("mary", name="Mary")
    people.put_user("mary", actor=actor, idnumber="S2", allow_certificate=False)
    stored = people.get_user("mary")
    assert (stored.idnumber, stored.allow_certificate, stored.name) == ("S2", False, "Mary")


def test_fields_can_be_cleared_with_empty_strings(actor: Actor) -> None:
    Make.user("mary", email="mary@example.com", name="Mary", idnumber="S1")
    people.put_user("mary", actor=actor, email="", name="", idnumber="")
    stored = people.get_user("mary")
    assert (stored.email, stored.name, stored.idnumber) == ("", "", "")


# ---------------------------------------------------------------- audit


def test_creation_writes_an_audit_row(actor: Actor) -> None:
    people.put_user("mary", actor=actor, email="mary@example.com", idnumber="S1")
    [created] = events("user:mary")
    assert created.event == "user.created"
    assert created.before is None
    assert created.after is not None
    assert created.after["email"] == "mary@example.com"
    assert created.after["idnumber"] == "S1"
    assert created.after["is_active"] is True
    assert created.source == actor.source


def test_every_change_writes_an_audit_row_with_before_and_after(actor: Actor) -> None:
    Make.user("mary", name="Mary", email="mary@example.com")

    people.put_user("mary", actor=actor, name="Mary Smith")
    people.put_user("mary", actor=actor, allow_certificate=False)
    people.put_user("mary", actor=actor, is_active=False)

    updates = events("user:mary", "user.updated")
    assert len(updates) == 3
    first, second, third = updates
    assert (first.before["name"], first.after["name"]) == ("Mary", "Mary Smith")
    assert first.before["email"] == first.after["email"] == "mary@example.com"
    assert (second.before["allow_certificate"], second.after["allow_certificate"]) == (True, False)
    assert (third.before["is_active"], third.after["is_active"]) == (True, False)


def test_no_op_update_writes_no_audit_row(actor: Actor) -> None:
    Make.user("mary", name="Mary", email="mary@example.com", idnumber="S1")
    events_before = audit_count()

    user, created = people.put_user(
        "MARY", actor=actor, name="Mary", email="mary@example.com", idnumber="S1"
    )
    people.put_user("mary", actor=actor)

    assert created is False
    assert user.name == "Mary"
    assert audit_count() == events_before


def test_ensure_user_grants_staff_but_never_takes_it(actor: Actor) -> None:
    people.ensure_user("admin", actor=actor, is_staff=True)
    assert people.ensure_user("admin", actor=actor).is_staff is True
    boss = people.ensure_user("boss", actor=actor, is_superuser=True)
    assert (boss.is_staff, boss.is_superuser) == (True, True)


# ---------------------------------------------------------------- look-ups


def test_user_refs_is_one_query(actor: Actor, django_assert_num_queries) -> None:
    for name in ("Mary", "bob", "Carol", "dave"):
        Make.user(name)
    people.put_user("dave", actor=actor, is_active=False)

    with django_assert_num_queries(1):
        refs = people.user_refs(["mary", "BOB", "carol", "Dave", "nobody", "Mary"])

    assert set(refs) == {"mary", "bob", "carol", "dave"}
    assert refs["mary"].username == "Mary"
    assert refs["dave"].is_active is False
    assert refs["bob"] == people.get_user_ref("bob")


def test_user_refs_of_nothing() -> None:
    assert people.user_refs([]) == {}


def test_search_users(actor: Actor) -> None:
    Make.user("alice", name="Alice Liddell")
    Make.user("bob", email="bob@wonderland.example")
    Make.user("carol")
    page = people.search_users("wonder", page=PageRequest())
    assert [u.username for u in page.items] == ["bob"]
    page = people.search_users("LIDDELL", page=PageRequest())
    assert [u.username for u in page.items] == ["alice"]
    everyone = people.search_users(None, page=PageRequest(page_size=2))
    assert everyone.count == 3
    assert [u.username for u in everyone.items] == ["alice", "bob"]


# ---------------------------------------------------------------- tokens


def test_created_token_authenticates(actor: Actor) -> None:
    mary = Make.user("mary")
    raw = people.create_token("MARY", actor=actor, name="sis feed")
    assert raw.startswith("rb_")
    assert people.authenticate_token(raw) == mary.ref


def test_only_the_token_digest_is_stored(actor: Actor) -> None:
    Make.user("mary")
    raw = people.create_token("mary", actor=actor, name="feed")

    [row] = ApiToken.objects.values()
    assert row["digest"] == hashlib.sha256(raw.encode()).hexdigest()
    assert all(raw not in str(value) for value in row.values())
    assert raw.startswith(row["prefix"])
    assert len(row["prefix"]) < len(raw) // 2
    # Not in the audit log either.
    assert all(raw not in str(event.after) for event in events("user:mary"))


def test_tokens_are_distinct(actor: Actor) -> None:
    Make.user("mary")
    first = people.create_token("mary", actor=actor)
    second = people.create_token("mary", actor=actor)
    assert first != second
    assert people.authenticate_token(first) == people.authenticate_token(second)


def test_revoked_token_fails(actor: Actor) -> None:
    Make.user("mary")
    raw = people.create_token("mary", actor=actor)
    other = people.create_token("mary", actor=actor)
    first_id = people.list_tokens("mary")[0].id

    revoked = people.revoke_token(first_id, actor=actor)

    assert revoked.revoked_at is not None
    assert people.authenticate_token(raw) is None
    assert people.authenticate_token(other) is not None
    assert len(events("user:mary", "token.revoked")) == 1
    # Revoking again is no change and writes nothing.
    people.revoke_token(first_id, actor=actor)
    assert len(events("user:mary", "token.revoked")) == 1


def test_revoking_an_unknown_token_is_not_found(actor: Actor) -> None:
    with pytest.raises(NotFound) as raised:
        people.revoke_token(999_999, actor=actor)
    assert raised.value.code == "token_not_found"


def test_inactive_users_token_fails_until_reactivated(actor: Actor) -> None:
    Make.user("mary")
    raw = people.create_token("mary", actor=actor)
    people.put_user("mary", actor=actor, is_active=False)
    assert people.authenticate_token(raw) is None
    people.put_user("mary", actor=actor, is_active=True)
    assert people.authenticate_token(raw) is not None


@pytest.mark.parametrize("raw", ["", "rb_", "rb_nope", "not-a-token", "rb_" + "x" * 300])
def test_unknown_tokens_fail(raw: str) -> None:
    assert people.authenticate_token(raw) is None


def test_token_prefix_alone_fails(actor: Actor) -> None:
    Make.user("mary")
    raw = people.create_token("mary", actor=actor)
    assert people.authenticate_token(raw[:-1]) is None
    assert people.authenticate_token(raw + "x") is None


def test_authentication_writes_last_use_at_most_once_a_minute(
    actor: Actor, django_assert_num_queries
) -> None:
    Make.user("mary")
    raw = people.create_token("mary", actor=actor)

    with django_assert_num_queries(2):  # look-up, then the first last_used_at
        people.authenticate_token(raw)
    first_use = people.list_tokens("mary")[0].last_used_at
    assert first_use is not None

    with django_assert_num_queries(1):  # within the minute: a read only
        people.authenticate_token(raw)
    assert people.list_tokens("mary")[0].last_used_at == first_use

    ApiToken.objects.update(last_used_at=first_use - dt.timedelta(minutes=2))
    with django_assert_num_queries(2):
        people.authenticate_token(raw)
    assert people.list_tokens("mary")[0].last_used_at > first_use - dt.timedelta(minutes=2)


def test_list_tokens(actor: Actor) -> None:
    Make.user("mary")
    people.create_token("mary", actor=actor, name="one")
    people.create_token("mary", actor=actor, name="two")
    tokens = people.list_tokens("MARY")
    assert [(t.name, t.username, t.revoked_at) for t in tokens] == [
        ("one", "mary", None),
        ("two", "mary", None),
    ]
    assert all(t.prefix.startswith("rb_") for t in tokens)


def test_token_for_unknown_user_is_not_found(actor: Actor) -> None:
    with pytest.raises(NotFound):
        people.create_token("nobody", actor=actor)
    assert not ApiToken.objects.exists()
