"""catalog.rest: the error shape of a refused course over HTTP."""

from __future__ import annotations

import pytest

from rollbook.catalog.models import Course
from tests.conftest import ApiClient

COURSE = "course-v1:edX+toy+2012"


@pytest.mark.django_db
def test_unknown_mode_answers_422_invalid_mode(staff_api: ApiClient) -> None:
    response = staff_api.put(f"courses/{COURSE}", {"title": "Toy", "modes": ["audit", "gold"]})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_mode"
    assert response.json()["fields"] == {"modes": ["gold"]}
    assert not Course.objects.exists()


@pytest.mark.django_db
def test_put_course_answers_201_then_200(staff_api: ApiClient) -> None:
    created = staff_api.put(f"courses/{COURSE}", {"title": "Toy", "modes": ["verified", "audit"]})
    assert created.status_code == 201
    assert created.json()["default_mode"] == "verified"
    again = staff_api.put(f"courses/{COURSE}", {"title": "Toy"})
    assert again.status_code == 200
    assert again.json()["org"] == "edX"
