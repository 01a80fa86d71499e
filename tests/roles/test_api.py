"""roles.api: grants, checks with and without the role cache, staff access, library visibility."""

from __future__ import annotations

import pytest

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.catalog.models import Org
from rollbook.lib.errors import Conflict, Invalid, NotFound
from rollbook.lib.pagination import PageRequest
from rollbook.people import api as people
from rollbook.people.data import UserRef
from rollbook.roles import api as roles
from rollbook.roles.cache import RoleCache
from rollbook.roles.models import RoleGrant
from tests.factories import Make

pytestmark = pytest.mark.django_db

COURSE = "course-v1:edX+toy+2012"
COURSE_UPPER = "course-v1:EDX+TOY+2012"
OTHER_COURSE = "course-v1:edX+other+2013"
MIT_COURSE = "course-v1:MITx+6.002x+2013"
LIBRARY = "lib:edX:problems"


def ref(username: str) -> UserRef:
    return people.get_user_ref(username)


def audit_count(event: str | None = None, subject: str | None = None) -> int:
    return audit.list_events(subject=subject, event=event, page=PageRequest()).count


@pytest.fixture
def course() -> str:
    return Make.course(COURSE).key


@pytest.fixture
def mary() -> UserRef:
    return Make.user("mary").ref


# ---------------------------------------------------------------- inheritance


def test_limited_staff_satisfies_staff(course: str, mary: UserRef) -> None:
    Make.grant("mary", "limited_staff", course_key=course)
    assert roles.check_role(mary, "staff", course_key=course)
    assert roles.check_role(mary, "limited_staff", course_key=course)


def test_staff_does_not_satisfy_limited_staff(course: str, mary: UserRef) -> None:
    Make.grant("mary", "staff", course_key=course)
    assert roles.check_role(mary, "staff", course_key=course)
    assert not roles.check_role(mary, "limited_staff", course_key=course)


def test_strict_check_turns_inheritance_off(course: str, mary: UserRef) -> None:
    Make.grant("mary", "limited_staff", course_key=course)
    assert not roles.check_role(mary, "staff", course_key=course, strict=True)
    assert roles.check_role(mary, "limited_staff", course_key=course, strict=True)


def test_inheritance_applies_on_a_library_too(mary: UserRef) -> None:
    Make.library(LIBRARY)
    Make.grant("mary", "limited_staff", course_key=LIBRARY)
    assert roles.check_role(mary, "staff", course_key=LIBRARY)
    assert not roles.check_role(mary, "staff", course_key=LIBRARY, strict=True)


# ---------------------------------------------------------------- course vs org roles


def test_org_role_does_not_grant_course_role_of_same_name(course: str, mary: UserRef) -> None:
    Make.grant("mary", "staff", org="edX")
    assert roles.check_role(mary, "staff", org="edX")
    assert not roles.check_role(mary, "staff", course_key=course)
    assert not roles.check_role(mary, "staff", course_key=course, org="edX")


def test_course_role_does_not_grant_org_role_of_same_name(course: str, mary: UserRef) -> None:
    Make.grant("mary", "instructor", course_key=course)
    assert roles.check_role(mary, "instructor", course_key=course)
    assert not roles.check_role(mary, "instructor", org="edX")


def test_org_role_is_bound_to_its_org(mary: UserRef) -> None:
    Make.grant("mary", "staff", org="edX")
    assert not roles.check_role(mary, "staff", org="MITx")
    assert not roles.check_role(mary, "staff", org="EDX")


def test_global_role_is_not_an_org_or_course_role(mary: UserRef) -> None:
    Make.grant("mary", "support")
    assert roles.check_role(mary, "support")
    assert roles.check_role(mary, "support", strict=True)
    Make.user("bob")
    assert not roles.check_role(ref("bob"), "support")


# ---------------------------------------------------------------- inactive users


def test_inactive_user_has_no_roles(course: str, mary: UserRef, actor: Actor) -> None:
    Make.grant("mary", "staff", course_key=course)
    Make.grant("mary", "instructor", org="edX")
    Make.grant("mary", "support")
    assert roles.check_role(mary, "staff", course_key=course)

    people.put_user("mary", actor=actor, is_active=False)
    inactive = ref("mary")

    assert not roles.check_role(inactive, "staff", course_key=course)
    assert not roles.check_role(inactive, "instructor", org="edX")
    assert not roles.check_role(inactive, "support")
    assert len(roles.role_cache(inactive)) == 0
    assert len(roles.role_caches([inactive])[inactive.id]) == 0


def test_reactivated_user_holds_their_roles_again(course: str, mary: UserRef, actor: Actor) -> None:
    Make.grant("mary", "staff", course_key=course)
    people.put_user("mary", actor=actor, is_active=False)
    people.put_user("mary", actor=actor, is_active=True)
    assert roles.check_role(ref("mary"), "staff", course_key=course)


@pytest.mark.parametrize(
    ("role", "where"),
    [
        ("staff", {"course_key": COURSE}),
        ("instructor", {"org": "NewOrg"}),
        ("support", {}),
    ],
)
def test_granting_to_inactive_user_is_refused_and_writes_nothing(
    course: str, mary: UserRef, actor: Actor, role: str, where: dict[str, str]
) -> None:
    people.put_user("mary", actor=actor, is_active=False)
    events_before = audit_count()

    with pytest.raises(Conflict) as raised:
        roles.grant_role("mary", role, actor=actor, **where)

    assert raised.value.code == "user_inactive"
    assert raised.value.status == 409
    assert not RoleGrant.objects.exists()
    assert audit_count() == events_before
    assert not Org.objects.filter(short_name="NewOrg").exists()


# ---------------------------------------------------------------- course key case


def test_course_keys_are_case_sensitive(mary: UserRef) -> None:
    Make.course(COURSE)
    Make.course(COURSE_UPPER)
    Make.grant("mary", "staff", course_key=COURSE)

    assert roles.check_role(mary, "staff", course_key=COURSE)
    assert not roles.check_role(mary, "staff", course_key=COURSE_UPPER)
    assert roles.list_context_grants(COURSE, page=PageRequest()).count == 1
    assert roles.list_context_grants(COURSE_UPPER, page=PageRequest()).count == 0
    assert roles.has_course_staff_access(mary, COURSE, roles.role_cache(mary))
    assert not roles.has_course_staff_access(mary, COURSE_UPPER, roles.role_cache(mary))


def test_granting_on_the_other_case_of_a_course_key_needs_that_course(
    course: str, mary: UserRef, actor: Actor
) -> None:
    with pytest.raises(NotFound) as raised:
        roles.grant_role("mary", "staff", actor=actor, course_key=COURSE_UPPER)
    assert raised.value.code == "course_not_found"


# ---------------------------------------------------------------- grant / revoke


def test_granting_twice_is_idempotent(course: str, mary: UserRef, actor: Actor) -> None:
    first, created = roles.grant_role("mary", "staff", actor=actor, course_key=course)
    again, created_again = roles.grant_role("MARY", "staff", actor=actor, course_key=course)

    assert created is True
    assert created_again is False
    assert first == again == roles.Grant("mary", "staff", "edX", course)
    assert RoleGrant.objects.count() == 1
    assert audit_count(event="role.granted", subject="user:mary") == 1


def test_one_revoke_removes_the_grant(course: str, mary: UserRef, actor: Actor) -> None:
    roles.grant_role("mary", "staff", actor=actor, course_key=course)
    roles.grant_role("mary", "staff", actor=actor, course_key=course)

    grant, revoked = roles.revoke_role("mary", "staff", actor=actor, course_key=course)

    assert revoked is True
    assert grant == roles.Grant("mary", "staff", "edX", course)
    assert not roles.check_role(mary, "staff", course_key=course)
    assert not RoleGrant.objects.exists()
    assert audit_count(event="role.revoked", subject="user:mary") == 1


def test_revoking_what_is_not_granted_is_no_error_and_writes_nothing(
    course: str, mary: UserRef, actor: Actor
) -> None:
    events_before = audit_count()
    _grant, revoked = roles.revoke_role("mary", "staff", actor=actor, course_key=course)
    assert revoked is False
    assert audit_count() == events_before


def test_revoking_one_grant_leaves_the_others(course: str, mary: UserRef, actor: Actor) -> None:
    Make.grant("mary", "staff", course_key=course)
    Make.grant("mary", "staff", org="edX")
    Make.grant("mary", "beta_testers", course_key=course)

    roles.revoke_role("mary", "staff", actor=actor, course_key=course)

    assert not roles.check_role(mary, "staff", course_key=course)
    assert roles.check_role(mary, "staff", org="edX")
    assert roles.check_role(mary, "beta_testers", course_key=course)


def test_grant_audit_row_names_the_grant(course: str, mary: UserRef, actor: Actor) -> None:
    roles.grant_role("mary", "instructor", actor=actor, course_key=course)
    event = audit.list_events(subject="user:mary", event="role.granted", page=PageRequest())
    assert [row.after for row in event.items] == [
        {"role": "instructor", "org": "edX", "course_key": course, "sources": ["manual"]}
    ]
    assert event.items[0].source == actor.source


def test_org_grant_creates_the_org(mary: UserRef, actor: Actor) -> None:
    grant, created = roles.grant_role("mary", "staff", actor=actor, org="NewOrg")
    assert created
    assert grant == roles.Grant("mary", "staff", "NewOrg", "")
    assert grant.scope is roles.Scope.ORG
    assert Org.objects.filter(short_name="NewOrg").exists()


def test_grant_on_unknown_course_library_or_user_is_not_found(mary: UserRef, actor: Actor) -> None:
    with pytest.raises(NotFound) as course_missing:
        roles.grant_role("mary", "staff", actor=actor, course_key=COURSE)
    with pytest.raises(NotFound) as library_missing:
        roles.grant_role("mary", "library_user", actor=actor, course_key=LIBRARY)
    Make.course(COURSE)
    with pytest.raises(NotFound) as user_missing:
        roles.grant_role("nobody", "staff", actor=actor, course_key=COURSE)

    assert course_missing.value.code == "course_not_found"
    assert library_missing.value.code == "library_not_found"
    assert user_missing.value.code == "user_not_found"
    assert not RoleGrant.objects.exists()


def test_grant_with_an_org_that_is_not_the_course_org_is_invalid(
    course: str, mary: UserRef, actor: Actor
) -> None:
    with pytest.raises(Invalid) as raised:
        roles.grant_role("mary", "staff", actor=actor, course_key=course, org="MITx")
    assert raised.value.code == "org_mismatch"


# ---------------------------------------------------------------- validation


def test_check_does_not_need_the_course_to_exist(mary: UserRef) -> None:
    assert not roles.check_role(mary, "staff", course_key="course-v1:Nowhere+none+2030")
    assert not roles.check_role(mary, "library_user", course_key="lib:Nowhere:none")
    assert not roles.check_role(mary, "staff", org="Nowhere")


def test_unknown_role_is_invalid(course: str, mary: UserRef, actor: Actor) -> None:
    with pytest.raises(Invalid) as on_check:
        roles.check_role(mary, "janitor", course_key=course)
    with pytest.raises(Invalid) as on_grant:
        roles.grant_role("mary", "janitor", actor=actor, course_key=course)
    with pytest.raises(Invalid) as on_revoke:
        roles.revoke_role("mary", "janitor", actor=actor, course_key=course)
    assert on_check.value.code == on_grant.value.code == on_revoke.value.code == "unknown_role"
    assert on_check.value.status == 422


@pytest.mark.parametrize(
    "bad_key",
    [
        "course-v1:edX+toy",
        "edX/toy/2012",
        "course-v1:edX+toy+2012+extra",
        "course-v1:ed X+toy+2012",
        "lib:edX",
        "lib:edX:a:b",
        "toy",
    ],
)
def test_malformed_course_key_is_invalid(mary: UserRef, actor: Actor, bad_key: str) -> None:
    with pytest.raises(Invalid) as on_check:
        roles.check_role(mary, "staff", course_key=bad_key)
    with pytest.raises(Invalid) as on_grant:
        roles.grant_role("mary", "staff", actor=actor, course_key=bad_key)
    assert on_check.value.code == on_grant.value.code == "invalid_context_key"


def test_malformed_org_is_invalid(mary: UserRef, actor: Actor) -> None:
    with pytest.raises(Invalid) as on_check:
        roles.check_role(mary, "staff", org="ed X")
    with pytest.raises(Invalid) as on_grant:
        roles.grant_role("mary", "staff", actor=actor, org="ed/X")
    assert on_check.value.code == on_grant.value.code == "invalid_org"


WRONG_SCOPES = [
    ("library_user", {"course_key": COURSE}),
    ("support", {"org": "edX"}),
    ("course_creator_group", {"course_key": COURSE}),
    ("beta_testers", {"course_key": LIBRARY}),
    ("beta_testers", {"org": "edX"}),
    ("finance_admin", {}),
    ("staff", {}),
]


@pytest.mark.parametrize(("role", "where"), WRONG_SCOPES)
def test_wrong_scope_is_invalid_on_grant(
    course: str, mary: UserRef, actor: Actor, role: str, where: dict[str, str]
) -> None:
    Make.library(LIBRARY)
    with pytest.raises(Invalid) as raised:
        roles.grant_role("mary", role, actor=actor, **where)
    assert raised.value.code == "invalid_role_scope"
    assert not RoleGrant.objects.exists()


@pytest.mark.parametrize(("role", "where"), WRONG_SCOPES)
def test_wrong_scope_is_invalid_on_check(mary: UserRef, role: str, where: dict[str, str]) -> None:
    with pytest.raises(Invalid) as raised:
        roles.check_role(mary, role, **where)
    assert raised.value.code == "invalid_role_scope"


@pytest.mark.parametrize(
    ("role", "where"),
    [
        ("library_user", {"course_key": LIBRARY}),
        ("library_user", {"org": "edX"}),
        ("staff", {"course_key": LIBRARY}),
        ("data_researcher", {"org": "edX"}),
        ("data_researcher", {"course_key": COURSE}),
        ("org_course_creator_group", {"org": "edX"}),
        ("course_creator_group", {}),
        ("support", {}),
    ],
)
def test_each_role_can_be_granted_and_checked_at_its_scope(
    course: str, mary: UserRef, role: str, where: dict[str, str]
) -> None:
    Make.library(LIBRARY)
    assert not roles.check_role(mary, role, **where)
    Make.grant("mary", role, **where)
    assert roles.check_role(mary, role, **where)
    assert roles.check_role(mary, role, strict=True, **where)


# ---------------------------------------------------------------- role cache and query counts


def test_role_cache_is_one_query(course: str, mary: UserRef, django_assert_num_queries) -> None:
    Make.grant("mary", "staff", course_key=course)
    Make.grant("mary", "instructor", org="edX")
    with django_assert_num_queries(1):
        cache = roles.role_cache(mary)
    assert len(cache) == 2


def test_checks_with_a_cache_take_no_query(
    course: str, mary: UserRef, django_assert_num_queries
) -> None:
    Make.grant("mary", "limited_staff", course_key=course)
    Make.grant("mary", "instructor", org="edX")
    cache = roles.role_cache(mary)
    with django_assert_num_queries(0):
        answers = [
            roles.check_role(mary, "staff", course_key=course, cache=cache) for _ in range(1000)
        ]
        answers += [cache.has_role("instructor", "", "edX") for _ in range(1000)]
        answers += [cache.has_role("staff", course, "edX") for _ in range(1000)]
        misses = [
            roles.check_role(mary, "staff", course_key=f"course-v1:edX+c{i}+2012", cache=cache)
            for i in range(1000)
        ]
    assert all(answers)
    assert not any(misses)


def test_check_without_a_cache_is_one_query(
    course: str, mary: UserRef, django_assert_num_queries
) -> None:
    Make.grant("mary", "staff", course_key=course)
    with django_assert_num_queries(1):
        assert roles.check_role(mary, "staff", course_key=course)


def test_check_of_an_inactive_user_takes_no_query(
    course: str, mary: UserRef, actor: Actor, django_assert_num_queries
) -> None:
    people.put_user("mary", actor=actor, is_active=False)
    inactive = ref("mary")
    with django_assert_num_queries(0):
        assert not roles.check_role(inactive, "staff", course_key=course)


def test_role_caches_loads_many_users_in_one_query(course: str, django_assert_num_queries) -> None:
    users = [Make.user(f"u{i}").ref for i in range(50)]
    for i, user in enumerate(users):
        if i % 2 == 0:
            Make.grant(user.username, "staff", course_key=course)
        if i % 5 == 0:
            Make.grant(user.username, "instructor", org="edX")

    with django_assert_num_queries(1):
        caches = roles.role_caches(users)

    assert set(caches) == {user.id for user in users}
    for i, user in enumerate(users):
        assert caches[user.id].has_role("staff", course, "edX") == (i % 2 == 0)
        assert caches[user.id].has_role("instructor", "", "edX") == (i % 5 == 0)
        # The bulk cache answers exactly as the single one does.
        single = roles.role_cache(user)
        assert len(caches[user.id]) == len(single)


def test_role_caches_accepts_a_generator(course: str) -> None:
    users = [Make.user(f"g{i}").ref for i in range(3)]
    Make.grant("g1", "staff", course_key=course)
    caches = roles.role_caches(user for user in users)
    assert set(caches) == {user.id for user in users}
    assert caches[users[1].id].has_role("staff", course, "edX")
    assert not caches[users[0].id].has_role("staff", course, "edX")


def test_role_caches_queries_in_chunks_for_very_many_users(django_assert_num_queries) -> None:
    # Only the ids matter to role_caches: users that do not exist have empty caches.
    refs = [UserRef(10_000 + i, f"ghost{i}", True, False, False) for i in range(1000)]
    with django_assert_num_queries(2):
        caches = roles.role_caches(refs)
    assert len(caches) == 1000
    assert all(len(cache) == 0 for cache in caches.values())


def test_role_caches_of_no_users_takes_no_query(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert roles.role_caches([]) == {}


# ---------------------------------------------------------------- course staff access


@pytest.mark.parametrize(
    ("role", "where", "expected"),
    [
        ("staff", {"course_key": COURSE}, True),
        ("instructor", {"course_key": COURSE}, True),
        ("limited_staff", {"course_key": COURSE}, True),
        ("beta_testers", {"course_key": COURSE}, False),
        ("data_researcher", {"course_key": COURSE}, False),
        ("ccx_coach", {"course_key": COURSE}, False),
        ("staff", {"org": "edX"}, True),
        ("instructor", {"org": "edX"}, True),
        ("data_researcher", {"org": "edX"}, False),
        ("library_user", {"org": "edX"}, False),
        ("staff", {"org": "MITx"}, False),
        ("instructor", {"org": "MITx"}, False),
        ("staff", {"course_key": OTHER_COURSE}, False),
        ("staff", {"course_key": MIT_COURSE}, False),
        ("support", {}, False),
    ],
)
def test_has_course_staff_access(
    mary: UserRef, role: str, where: dict[str, str], expected: bool
) -> None:
    for key in (COURSE, OTHER_COURSE, MIT_COURSE):
        Make.course(key)
    Make.grant("mary", role, **where)
    assert roles.has_course_staff_access(mary, COURSE, roles.role_cache(mary)) is expected


def test_has_course_staff_access_for_global_staff(course: str) -> None:
    admin = Make.user("admin", is_staff=True).ref
    assert roles.has_course_staff_access(admin, course, roles.role_cache(admin))
    # Global staff need no course either.
    assert roles.has_course_staff_access(admin, "course-v1:Nowhere+x+1", RoleCache())


def test_has_course_staff_access_not_for_inactive_users(
    course: str, mary: UserRef, actor: Actor
) -> None:
    Make.grant("mary", "staff", course_key=course)
    Make.user("admin", is_staff=True)
    people.put_user("mary", actor=actor, is_active=False)
    people.put_user("admin", actor=actor, is_active=False)
    for username in ("mary", "admin"):
        user = ref(username)
        # Even with a cache built while they were active.
        stale_cache = RoleCache([("staff", "edX", course)])
        assert not roles.has_course_staff_access(user, course, stale_cache)


# ---------------------------------------------------------------- listings


def test_list_user_grants_pages_by_key(mary: UserRef) -> None:
    harvard = Make.course("course-v1:HarvardX+CS50+2024").key
    Make.course(MIT_COURSE)
    Make.grant("mary", "staff", course_key=MIT_COURSE)
    Make.grant("mary", "beta_testers", course_key=harvard)
    Make.grant("mary", "instructor", org="edX")

    page = roles.list_user_grants("MARY", page=PageRequest(page=1, page_size=2))

    assert page.count == 3
    assert [(g.role, g.org, g.course_key) for g in page.items] == [
        ("instructor", "edX", ""),
        ("beta_testers", "HarvardX", harvard),
    ]
    rest = roles.list_user_grants("mary", page=PageRequest(page=2, page_size=2))
    assert [g.course_key for g in rest.items] == [MIT_COURSE]


def test_list_context_grants(course: str) -> None:
    for name in ("zed", "amy", "bob"):
        Make.user(name)
    Make.grant("zed", "staff", course_key=course)
    Make.grant("amy", "staff", course_key=course)
    Make.grant("bob", "beta_testers", course_key=course)
    Make.grant("amy", "staff", org="edX")

    page = roles.list_context_grants(course, page=PageRequest())

    assert page.count == 3
    assert [(g.role, g.username) for g in page.items] == [
        ("beta_testers", "bob"),
        ("staff", "amy"),
        ("staff", "zed"),
    ]
    with pytest.raises(Invalid):
        roles.list_context_grants("not-a-key", page=PageRequest())


# ---------------------------------------------------------------- visible libraries

LIBRARIES = [
    "lib:BerkeleyX:a",
    "lib:BerkeleyX:b",
    "lib:MITx:m1",
    "lib:MITx:m2",
    "lib:HarvardX:h1",
    "lib:HarvardX:h2",
    "lib:DelftX:d1",
]


@pytest.fixture
def libraries() -> list[str]:
    return [Make.library(key).key for key in LIBRARIES]


def visible(user: UserRef, page: PageRequest | None = None) -> list[str]:
    return [lib.key for lib in roles.visible_libraries(user, page=page or PageRequest()).items]


def test_visible_libraries_global_staff_see_all(libraries: list[str]) -> None:
    admin = Make.user("admin", is_staff=True).ref
    result = roles.visible_libraries(admin, page=PageRequest())
    assert result.count == len(LIBRARIES)
    assert [lib.key for lib in result.items] == sorted(LIBRARIES)


def test_visible_libraries_with_a_role_on_the_library(libraries: list[str], mary: UserRef) -> None:
    Make.grant("mary", "library_user", course_key="lib:HarvardX:h1")
    Make.grant("mary", "staff", course_key="lib:MITx:m2")
    assert visible(mary) == ["lib:HarvardX:h1", "lib:MITx:m2"]


@pytest.mark.parametrize("role", ["staff", "instructor", "library_user"])
def test_visible_libraries_of_orgs_with_an_org_role(
    libraries: list[str], mary: UserRef, role: str
) -> None:
    Make.grant("mary", role, org="MITx")
    assert visible(mary) == ["lib:MITx:m1", "lib:MITx:m2"]


def test_visible_libraries_not_through_org_data_researcher(
    libraries: list[str], mary: UserRef
) -> None:
    Make.grant("mary", "data_researcher", org="MITx")
    Make.grant("mary", "org_course_creator_group", org="edX")
    assert visible(mary) == []
    assert roles.visible_libraries(mary, page=PageRequest()).count == 0


def test_visible_libraries_not_through_course_roles(libraries: list[str], mary: UserRef) -> None:
    Make.course(MIT_COURSE)
    Make.grant("mary", "staff", course_key=MIT_COURSE)
    Make.grant("mary", "support")
    assert visible(mary) == []


def test_visible_libraries_combines_library_and_org_grants(
    libraries: list[str], mary: UserRef
) -> None:
    Make.grant("mary", "library_user", course_key="lib:HarvardX:h1")
    Make.grant("mary", "staff", org="BerkeleyX")
    Make.grant("mary", "library_user", course_key="lib:BerkeleyX:a")  # visible through the org too
    Make.grant("mary", "library_user", org="DelftX")
    Make.grant("mary", "data_researcher", org="MITx")
    Make.user("bob")
    Make.grant("bob", "staff", org="MITx")  # another user's grants do not count

    result = roles.visible_libraries(mary, page=PageRequest())

    assert [lib.key for lib in result.items] == [
        "lib:BerkeleyX:a",
        "lib:BerkeleyX:b",
        "lib:DelftX:d1",
        "lib:HarvardX:h1",
    ]
    assert result.count == 4


def test_visible_libraries_count_is_total_and_items_are_the_first_page(
    libraries: list[str], mary: UserRef
) -> None:
    Make.grant("mary", "staff", org="BerkeleyX")
    Make.grant("mary", "staff", org="MITx")
    Make.grant("mary", "library_user", course_key="lib:HarvardX:h2")

    first = roles.visible_libraries(mary, page=PageRequest(page=1, page_size=2))
    second = roles.visible_libraries(mary, page=PageRequest(page=2, page_size=2))
    third = roles.visible_libraries(mary, page=PageRequest(page=3, page_size=2))

    assert first.count == second.count == third.count == 5
    assert [lib.key for lib in first.items] == ["lib:BerkeleyX:a", "lib:BerkeleyX:b"]
    assert [lib.key for lib in second.items] == ["lib:HarvardX:h2", "lib:MITx:m1"]
    assert [lib.key for lib in third.items] == ["lib:MITx:m2"]
    assert (first.page, first.page_size) == (1, 2)


def test_visible_libraries_inactive_users_see_none(
    libraries: list[str], mary: UserRef, actor: Actor
) -> None:
    Make.grant("mary", "staff", org="BerkeleyX")
    Make.grant("mary", "library_user", course_key="lib:MITx:m1")
    Make.user("admin", is_staff=True)
    people.put_user("mary", actor=actor, is_active=False)
    people.put_user("admin", actor=actor, is_active=False)
    for username in ("mary", "admin"):
        result = roles.visible_libraries(ref(username), page=PageRequest())
        assert result.count == 0
        assert list(result.items) == []


@pytest.mark.parametrize("staff", [False, True])
def test_visible_libraries_is_two_queries(
    libraries: list[str], staff: bool, django_assert_num_queries
) -> None:
    user = Make.user("mary", is_staff=staff).ref
    Make.grant("mary", "staff", org="BerkeleyX")
    Make.grant("mary", "library_user", course_key="lib:MITx:m1")
    for i in range(20):
        Make.library(f"lib:BerkeleyX:extra{i}")
    with django_assert_num_queries(2):
        result = roles.visible_libraries(user, page=PageRequest(page_size=5))
    assert len(result.items) == 5
    assert result.count == (27 if staff else 23)
