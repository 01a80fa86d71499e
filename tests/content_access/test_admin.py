"""Content access in the admin: every page renders with data in it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from rollbook.audit.data import Actor
from rollbook.content_access import api as content
from rollbook.people.models import User
from tests.content_access.test_rest import COURSE, STRUCTURE
from tests.factories import Make

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.mark.parametrize(
    "model", ["coursestructure", "cohort", "cohortmembership", "randomassignment"]
)
def test_every_content_access_changelist_renders(model: str) -> None:
    Make.course(COURSE, modes=["audit", "verified"], default_mode="audit")
    Make.user("ann")
    content.put_structure(COURSE, STRUCTURE, actor=ACTOR)
    content.put_cohort(COURSE, "Red", partition_id=1, group_id=10, actor=ACTOR)
    content.add_cohort_member(COURSE, "Red", "ann", actor=ACTOR)
    content.course_blocks(COURSE, "ann")  # stores a random assignment
    Make.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    response = client.get(reverse(f"admin:content_access_{model}_changelist"))
    assert response.status_code == 200
    assert COURSE.encode() in response.content
