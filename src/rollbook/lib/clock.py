"""The one place that reads the time, so that tests and jobs agree on "now"."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()
