"""The `rollbook` console command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

err = Console(stderr=True)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollbook.settings")
    import django

    django.setup()


def _migrate(verbosity: int = 1) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def cmd_migrate(args: argparse.Namespace) -> int:
    _setup_django()
    _migrate()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    _migrate(verbosity=0)
    from rollbook.server import serve

    err.print(
        f"[bold]rollbook[/] serving on http://{args.host}:{args.port}/ "
        f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
        f"jobs: {settings.JOBS_RUNNER}, workers: {args.workers})"
    )
    serve(host=args.host, port=args.port, workers=args.workers, threads=args.threads)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.lib.errors import RollbookError
    from rollbook.people import api as people

    actor = Actor.system("cli")
    try:
        people.ensure_user(
            args.username, actor=actor, is_staff=args.staff, is_superuser=args.superuser
        )
        token = people.create_token(args.username, actor=actor, name=args.name)
    except RollbookError as exc:
        err.print(f"[red]error[/] ({exc.code}): {exc.message}")
        return 2
    sys.stdout.write(token + "\n")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    _setup_django()
    from rich.table import Table

    from rollbook.lib.errors import RollbookError
    from rollbook.people import api as people

    try:
        tokens = people.list_tokens(args.username)
    except RollbookError as exc:
        err.print(f"[red]error[/] ({exc.code}): {exc.message}")
        return 2
    table = Table("id", "prefix", "name", "created", "last used", "revoked")
    for token in tokens:
        table.add_row(
            str(token.id),
            token.prefix + "…",
            token.name,
            f"{token.created:%Y-%m-%d %H:%M}",
            f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "",
            f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "",
        )
    Console().print(table)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.lib.errors import RollbookError
    from rollbook.people import api as people

    try:
        token = people.revoke_token(args.token_id, actor=Actor.system("cli"))
    except RollbookError as exc:
        err.print(f"[red]error[/] ({exc.code}): {exc.message}")
        return 2
    err.print(f"revoked token {token.id} ({token.prefix}…) of {token.username}")
    return 0


def cmd_oneroster_client_create(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.oneroster import api as oneroster
    from rollbook.oneroster.data import SCOPE_BASE, SCOPE_NRPS

    short = {SCOPE_NRPS.rsplit("/", 1)[1]: SCOPE_NRPS}  # contextmembership.readonly (LTI NRPS)
    scopes = tuple(
        s if s.startswith("https://") else short.get(s, SCOPE_BASE + s) for s in args.scope
    )
    try:
        client, secret = oneroster.create_client(
            args.name, actor=Actor.system("cli"), scopes=scopes or oneroster.ALL_SCOPES
        )
    except ValueError as exc:
        err.print(f"[red]error[/] (invalid_scope): {exc}")
        return 2
    sys.stdout.write(f"client_id={client.client_id}\nclient_secret={secret}\n")
    err.print("The secret is shown once; it is stored only as a digest.")
    return 0


def cmd_oneroster_export(args: argparse.Namespace) -> int:
    """Write the roster as a OneRoster 1.2 CSV bulk zip; a summary of rows per file on stderr."""
    from pathlib import Path

    _setup_django()
    _migrate(verbosity=0)
    from rollbook.oneroster import api as oneroster

    target = Path(args.file)
    if target.suffix.lower() != ".zip":
        err.print(f"[red]error[/] (invalid): {target}: the file name must end in .zip")
        return 2
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:
            counts = oneroster.write_zip(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        err.print(f"[red]error[/]: {target}: {exc.strerror or exc}")
        return 1
    partial.replace(target)
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    err.print(f"wrote {target}: {summary}")
    return 0


def cmd_oneroster_client_list(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.oneroster import api as oneroster

    for client in oneroster.list_clients():
        state = "revoked" if client.revoked_at else "active"
        sys.stdout.write(f"{client.client_id}\t{state}\t{client.name}\t{' '.join(client.scopes)}\n")
    return 0


def cmd_oneroster_client_revoke(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.oneroster import api as oneroster

    if not oneroster.revoke_client(args.client_id, actor=Actor.system("cli")):
        err.print(f"[red]error[/] (not_found): no active client {args.client_id!r}")
        return 2
    err.print(f"revoked client {args.client_id} and its tokens")
    return 0


def cmd_oneroster_tombstones(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.oneroster import api as oneroster

    read = oneroster.sync_tombstones()
    pruned = oneroster.prune_tombstones()
    err.print(f"read {read} audit events; pruned {pruned} tombstones past the retention")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    from rollbook.jobs import api as jobs
    from rollbook.jobs.celery_app import app

    if not settings.REDIS_URL:
        err.print(
            "[yellow]ROLLBOOK_REDIS_URL is not set:[/] without a broker, jobs run inside "
            "`rollbook serve`; set it to run jobs on workers."
        )
        return 2
    requeued = jobs.dispatch_queued()
    jobs.dispatch_all_tasks()  # e.g. LMB messages accepted before a restart
    if requeued:
        err.print(f"re-dispatched {requeued} queued job(s)")
    argv = [
        "worker",
        f"--loglevel={args.loglevel}",
        f"--concurrency={args.concurrency}",
        "--queues=rollbook",
        f"--pool={args.pool}",
    ]
    app.worker_main(argv)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_django()
    _migrate(verbosity=0)
    from rollbook.demo import load_demo

    summary = load_demo()
    from rich.table import Table

    table = Table("what", "count", title="rollbook demo data")
    for what, count in summary.items():
        table.add_row(what, str(count))
    Console(stderr=True).print(table)
    err.print(
        "Try: [bold]rollbook token create admin --staff[/] and "
        "GET /api/v1/users/ada/libraries with it."
    )
    return 0


def cmd_sis_import(args: argparse.Namespace) -> int:
    """Import an IMS Enterprise file or a OneRoster 1.2 CSV zip (known by its content) in the
    foreground, with a progress bar and a summary.

    Exit 0 when done (record warnings included), 1 when the file is unusable, 2 when held.
    """
    from pathlib import Path

    _setup_django()
    _migrate(verbosity=0)
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )
    from rich.table import Table

    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.lib.errors import RollbookError
    from rollbook.sis_import import api as sis

    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]error[/]: {path}: no such file")
        return 1
    options = sis.ImportOptions(
        dry_run=args.dry_run,
        comprehensive=args.comprehensive,
        force=args.force,
        commit_preview=args.commit_preview,
    )
    try:
        with path.open("rb") as stream:
            started = sis.start_import(
                stream,
                filename=path.name,
                actor=Actor.system("cli"),
                options=options,
                foreground=True,
            )
    except RollbookError as exc:
        err.print(f"[red]error[/] ({exc.code}): {path}: {exc.message}")
        return 1
    if started.job is None:
        err.print(
            f"{path}: already imported as job {started.already_imported_as}; "
            "--force runs it anyway (and then nothing changes)."
        )
        return 0
    size = path.stat().st_size
    records = {"count": 0}
    with Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("validate", total=size, records="")

        def observe(event: str, data: dict[str, Any]) -> None:
            if event in ("validate", "stage"):
                progress.update(task, description=event, completed=data["bytes"])
            elif event == "records":
                records["count"] = data["count"]
                elapsed = progress.tasks[task].elapsed or 1
                rate = records["count"] / elapsed
                progress.update(task, records=f"{records['count']:,} records ({rate:,.0f}/s)")
            elif event == "apply":
                progress.update(
                    task, description="apply", records=f"{data['kind']}s: {data['count']:,}"
                )

        job = jobs.run_job(started.job.uuid, observer=observe)
    table = Table("what", "count", title=f"{path.name}: {job.state}")
    err.print(f"job {job.uuid}")
    for name, count in sorted(job.counts.items()):
        table.add_row(name, f"{count:,}")
    err.print(table)
    for error in job.errors[:25]:
        err.print(f"[yellow]{error['code']}[/] {error['record']}: {error['message']}")
    for label, report in (
        ("errors", sis.errors_csv_path(job.uuid)),
        ("preview (destructive changes)", sis.preview_csv_path(job.uuid)),
    ):
        if report.exists():
            err.print(f"{label}: {report}")
    if job.state == "failed":
        err.print(f"[red]error[/]: {path}: {job.message}")
        return 1
    if job.state == "held":
        err.print(f"[yellow]held[/]: {job.message}")
        err.print(
            f"approve: rollbook sis approve {job.uuid}   discard: rollbook sis discard {job.uuid}"
        )
        return 2
    return 0


def cmd_sis_decide(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.lib.errors import RollbookError
    from rollbook.sis_import import api as sis

    actor = Actor.system("cli")
    try:
        if args.sis_command == "approve":
            sis.approve_import(args.job, actor=actor)
            job = jobs.run_job(args.job)
        else:
            job = sis.discard_import(args.job, actor=actor)
    except RollbookError as exc:
        err.print(f"[red]error[/] ({exc.code}): {exc.message}")
        return 1
    err.print(f"job {job.uuid}: {job.state}")
    return 0 if job.state in ("succeeded", "cancelled") else 1


def cmd_sis_reapply(args: argparse.Namespace) -> int:
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.sis_import import api as sis

    summary = sis.reapply(actor=Actor.system("cli"))
    for kind, counts in summary.items():
        err.print(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def cmd_sis_retry(args: argparse.Namespace) -> int:
    """Put failed LMB messages back in line (all, or those named) and apply them now."""
    _setup_django()
    from rollbook.sis_import import api as sis

    count = sis.retry_failed_messages(args.message_ids or None)
    done = sis.process_messages()
    err.print(f"retried {count} failed message(s); applied {done} pending message(s)")
    counts = sis.inbox_counts()
    err.print(", ".join(f"{state} {n}" for state, n in counts.items()))
    return 0 if counts.get("failed", 0) == 0 else 1


def cmd_sis_monitor(args: argparse.Namespace) -> int:
    """Check the LMB feed, for cron: exit 0 when it is fine, 2 when it is stale, 1 when the
    check itself cannot be made (a wrong setting, a mail not sent). With --mail, a stale feed
    is also mailed to ROLLBOOK_SIS_MONITOR_MAIL_TO (one mail a run)."""
    _setup_django()
    import json

    from django.core.exceptions import ImproperlyConfigured
    from rich.markup import escape
    from rich.table import Table

    from rollbook.lib.errors import RollbookError
    from rollbook.sis_import import api as sis
    from rollbook.sis_import.errors import MSG_NO_ALERT_RECIPIENTS

    try:
        if args.mail and not sis.alert_recipients():
            err.print(f"[red]error[/]: --mail: {MSG_NO_ALERT_RECIPIENTS}")
            return 1
        status = sis.feed_status()
    except ImproperlyConfigured as exc:
        err.print(f"[red]error[/]: {escape(str(exc))}")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(status.as_dict()) + "\n")
    else:
        last = status.last_message_at
        table = Table("what", "value", title=f"LMB feed: {'STALE' if status.stale else 'ok'}")
        for what, value in (
            ("stale", f"yes: {status.reason}" if status.stale else "no"),
            ("last message", f"{last:%Y-%m-%d %H:%M:%S %Z}" if last else "never"),
            ("messages in the last hour", f"{status.messages_last_hour:,}"),
            ("memberships pending", f"{status.pending:,}"),
            ("failed messages", f"{status.failed:,}"),
            ("identity collisions", f"{status.collisions:,}"),
            ("inbox depth", f"{status.inbox_depth:,}"),
            ("apply lag", f"{status.apply_lag_seconds:,.0f} s"),
            ("in business hours", "yes" if status.in_business_hours else "no"),
        ):
            table.add_row(what, escape(value))
        Console().print(table)
    if not status.stale:
        return 0
    if args.mail:
        try:
            recipients = sis.send_stale_alert(status)
        except (RollbookError, OSError) as exc:  # smtplib's errors are OSErrors
            err.print(f"[red]error[/]: the alert mail was not sent: {escape(str(exc))}")
            return 1
        err.print(f"stale: mailed {', '.join(recipients)}")
    return 2


def cmd_programs_upload(args: argparse.Namespace) -> int:
    """Enroll (student_key,status,curriculum_uuid) or link (external_user_key,username) from a
    CSV file, as a job run in the foreground with a progress bar and a summary.

    Exit 0 when every row succeeded, 1 when some failed or the file is unusable (a bad file
    names the line, and nothing is applied)."""
    import csv
    from pathlib import Path

    _setup_django()
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from rollbook.audit.data import Actor
    from rollbook.jobs import api as jobs
    from rollbook.lib.errors import RollbookError
    from rollbook.programs import api as programs

    enroll = args.programs_command == "enroll"
    columns = programs.ENROLL_COLUMNS if enroll else programs.LINK_COLUMNS
    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]error[/]: {escape(str(path))}: no such file", soft_wrap=True)
        return 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            rows = programs.read_csv(stream, name=path.name, columns=columns)
        start = programs.start_enroll_upload if enroll else programs.start_link_upload
        started = start(args.program_uuid, rows, actor=Actor.system("cli"), dispatch=False)
    except RollbookError as exc:
        line = exc.fields.get("line")
        where = f"{path}:{line}" if line else str(path)
        err.print(
            f"[red]error[/] ({exc.code}): {escape(where)}: {escape(exc.message)}", soft_wrap=True
        )
        return 1
    except (UnicodeDecodeError, csv.Error) as exc:
        err.print(
            f"[red]error[/]: {escape(str(path))}: not a UTF-8 CSV file ({exc})", soft_wrap=True
        )
        return 1
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(args.programs_command, total=len(rows))

        def observe(event: str, data: dict[str, Any]) -> None:
            if event == "rows":
                progress.update(task, completed=data["done"], total=data["total"])

        job = jobs.run_job(started.uuid, observer=observe)
    failed = job.counts.get("errors", 0)
    summary = f"{path.name}: {job.state}" + (f", {failed:,} row(s) failed" if failed else "")
    table = Table("what", "count")
    table.add_row("rows", f"{len(rows):,}")
    for name, count in sorted(job.counts.items()):
        table.add_row(name, f"{count:,}")
    err.print(f"job {job.uuid}")
    err.print(table)
    err.print(escape(summary), soft_wrap=True)
    for error in job.errors[:25]:
        record, message = str(error["record"]), str(error["message"])
        detail = message.removeprefix(f"{record}: ")  # enroll's messages name the key
        err.print(f"[yellow]{escape(record)}[/]: {escape(detail)}", soft_wrap=True)
    if failed > 25:
        err.print(f"... and {failed - 25:,} more: GET /api/v1/jobs/{job.uuid} lists the counts")
    if job.state != "succeeded":
        err.print(f"[red]error[/]: {escape(str(path))}: {escape(job.message)}", soft_wrap=True)
        return 1
    return 1 if failed else 0


def cmd_programs_expire(args: argparse.Namespace) -> int:
    """Remove program enrollments still waiting for an account after --days days."""
    _setup_django()
    from rollbook.audit.data import Actor
    from rollbook.programs import api as programs

    removed = programs.expire_waiting(days=args.days, actor=Actor.system("cli"))
    sys.stdout.write(f"{removed}\n")
    err.print(f"removed {removed} waiting program enrollment(s) older than {args.days} day(s)")
    return 0


def cmd_certificates_generate(args: argparse.Namespace) -> int:
    """Generate a course's certificates as a job run in the foreground, with a progress bar,
    then print the learners per outcome. Exit 0 when the job ran to its end (learners refused
    are outcomes), 1 when it could not start or failed."""
    _setup_django()
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from rollbook.audit.data import Actor
    from rollbook.certificates import api as certificates
    from rollbook.enrollments import api as enrollments
    from rollbook.jobs import api as jobs
    from rollbook.lib.errors import RollbookError
    from rollbook.lib.pagination import PageRequest

    course_key: str = args.course_key
    usernames: list[str] | None = args.usernames
    try:
        if usernames:
            total = len(usernames)
        else:
            total = enrollments.list_course_enrollments(course_key, page=PageRequest(1, 1)).count
        started = certificates.start_generation(
            course_key,
            usernames=usernames,
            statuses_to_regenerate=args.regenerate,
            actor=Actor.system("cli"),
            dispatch=False,
        )
    except RollbookError as exc:
        err.print(f"[red]error[/] ({exc.code}): {escape(exc.message)}", soft_wrap=True)
        return 1
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("generate", total=total)

        def observe(event: str, data: dict[str, Any]) -> None:
            if event == "batch":
                progress.update(task, completed=min(int(data["done"]), total))

        job = jobs.run_job(started.uuid, observer=observe)
        progress.update(task, completed=total)
    err.print(f"job {job.uuid}")
    out = Console()
    out.print(f"{escape(course_key)}: {job.state}", soft_wrap=True)
    table = Table("outcome", "count")
    for name, count in sorted(job.counts.items()):
        table.add_row(escape(name), f"{count:,}")
    out.print(table)
    for error in job.errors[:25]:
        err.print(
            f"[yellow]{escape(str(error['record']))}[/]: {escape(str(error['message']))}",
            soft_wrap=True,
        )
    if job.state != "succeeded":
        err.print(f"[red]error[/]: {escape(job.message)}", soft_wrap=True)
        return 1
    return 0


CREDENTIAL_FETCH_TIMEOUT_S = 10
CREDENTIAL_ACCEPT = "application/ld+json, application/vc+ld+json;q=0.9, application/json;q=0.8"
CHECK_COLOURS = {"ok": "green", "active": "green", "none": "yellow", "skipped": "yellow"}


class _Unreadable(Exception):
    """The credential could not be read (exit 2); the message says why."""


def _read_credential(source: str, limit: int) -> bytes:
    """The bytes of a file, of stdin ("-") or of an http(s) URL, at most `limit` of them."""
    import http.client
    import urllib.error
    import urllib.request

    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit + 1)
        elif source.lower().startswith(("http://", "https://")):
            import rollbook

            request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
                source,
                headers={
                    "Accept": CREDENTIAL_ACCEPT,
                    "User-Agent": f"rollbook/{rollbook.__version__}",
                },
            )
            with urllib.request.urlopen(  # noqa: S310 (http and https only, checked above)
                request, timeout=CREDENTIAL_FETCH_TIMEOUT_S
            ) as response:
                data = response.read(limit + 1)
        else:
            with open(source, "rb") as stream:
                data = stream.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise _Unreadable(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Unreadable(f"cannot fetch: {exc.reason}") from None
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from None
    except (ValueError, http.client.HTTPException) as exc:
        raise _Unreadable(f"cannot fetch: {exc}") from None
    if len(data) > limit:
        raise _Unreadable(f"larger than {limit:,} bytes (ROLLBOOK_CERT_CREDENTIAL_MAX_BYTES)")
    return data


def cmd_certificates_verify(args: argparse.Namespace) -> int:
    """Check an Open Badges 3.0 credential from a file, stdin ("-") or a URL: its structure,
    proof, status and validity dates, each printed. Exit 0 valid, 1 not valid (each failure
    named), 2 when the input cannot be read or is not JSON."""
    import json

    _setup_django()
    from django.conf import settings
    from rich.markup import escape
    from rich.table import Table

    from rollbook.certificates import api as certificates

    source: str = args.credential
    name = "<stdin>" if source == "-" else source
    limit = int(settings.CERTIFICATES["CREDENTIAL_MAX_BYTES"])
    try:
        raw = _read_credential(source, limit)
    except _Unreadable as exc:
        err.print(f"[red]error[/]: {escape(name)}: {escape(str(exc))}", soft_wrap=True)
        return 2
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        err.print(f"[red]error[/]: {escape(name)}: not JSON ({escape(str(exc))})", soft_wrap=True)
        return 2
    result = certificates.verify_credential(document)
    out = Console()
    verdict = "[green]valid[/]" if result.valid else "[red]NOT VALID[/]"
    out.print(f"{escape(name)}: {verdict}", soft_wrap=True)
    table = Table("check", "result")
    for check, state in result.checks().items():
        colour = CHECK_COLOURS.get(state, "red")
        table.add_row(check, f"[{colour}]{state}[/]")
    out.print(table)
    for error in result.errors:
        out.print(f"[red]{escape(error.code)}[/]: {escape(error.message)}", soft_wrap=True)
    return 0 if result.valid else 1


def _names(value: str) -> list[str]:
    """A comma-separated list, without blanks or repeats (at least one name)."""
    names = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not names:
        raise argparse.ArgumentTypeError("give at least one name (a,b,c)")
    return names


def _days(value: str) -> int:
    days = int(value)
    if days < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return days


def cmd_manage(args: argparse.Namespace, rest: Sequence[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollbook.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["rollbook manage", *rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rollbook", description="Enrollment and access service.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("serve", help="apply migrations, then serve HTTP (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    p.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    p = token.add_parser("create", help="create a token (and the user when missing)")
    p.add_argument("username")
    p.add_argument("--staff", action="store_true", help="make the user global staff")
    p.add_argument("--superuser", action="store_true", help="make the user a superuser")
    p.add_argument("--name", default="", help="a label for the token")
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("list", help="list a user's tokens")
    p.add_argument("username")
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", help="revoke a token by id")
    p.add_argument("token_id", type=int)
    p.set_defaults(func=cmd_token_revoke)

    p = sub.add_parser("worker", help="run a Celery worker (needs ROLLBOOK_REDIS_URL)")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("demo", help="load a small, realistic demo data set")
    p.set_defaults(func=cmd_demo)

    sis = sub.add_parser("sis", help="SIS feeds (IMS Enterprise 1.1 from Banner)").add_subparsers(
        dest="sis_command", required=True, metavar="ACTION"
    )
    p = sis.add_parser("import", help="import an IMS Enterprise file or a OneRoster 1.2 CSV zip")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="compute everything, write nothing")
    p.add_argument(
        "--comprehensive",
        action="store_true",
        help="drop SIS enrollments of the file's terms that the file no longer lists",
    )
    p.add_argument("--force", action="store_true", help="run a file already imported")
    p.add_argument("--commit-preview", metavar="JOB", help="apply exactly a dry run's preview")
    p.set_defaults(func=cmd_sis_import)
    for action, text in (("approve", "apply the drops a job held"), ("discard", "discard them")):
        p = sis.add_parser(action, help=text)
        p.add_argument("job")
        p.set_defaults(func=cmd_sis_decide)
    p = sis.add_parser("reapply", help="apply what waits (after a term filter change)")
    p.set_defaults(func=cmd_sis_reapply)
    p = sis.add_parser("retry", help="retry failed LMB messages (all, or the ids given)")
    p.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    p.set_defaults(func=cmd_sis_retry)
    p = sis.add_parser(
        "monitor", help="check the LMB feed: exit 0 fine, 2 stale (for cron), 1 cannot check"
    )
    p.add_argument(
        "--mail", action="store_true", help="when stale, mail ROLLBOOK_SIS_MONITOR_MAIL_TO"
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=cmd_sis_monitor)

    programs = sub.add_parser(
        "programs", help="program enrollments (Open edX's program_enrollments)"
    ).add_subparsers(dest="programs_command", required=True, metavar="ACTION")
    p = programs.add_parser(
        "enroll", help="enroll student keys from a CSV (student_key,status,curriculum_uuid)"
    )
    p.add_argument("program_uuid", metavar="PROGRAM_UUID")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(func=cmd_programs_upload)
    p = programs.add_parser(
        "link", help="link student keys to accounts from a CSV (external_user_key,username)"
    )
    p.add_argument("program_uuid", metavar="PROGRAM_UUID")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(func=cmd_programs_upload)
    p = programs.add_parser(
        "expire-waiting", help="remove program enrollments waiting for an account too long"
    )
    p.add_argument("--days", type=_days, required=True, metavar="N")
    p.set_defaults(func=cmd_programs_expire)

    certificates = sub.add_parser(
        "certificates", help="course certificates (grades in, generation, verification)"
    ).add_subparsers(dest="certificates_command", required=True, metavar="ACTION")
    p = certificates.add_parser(
        "generate", help="generate a course's certificates in the foreground (a job)"
    )
    p.add_argument("course_key", metavar="COURSE_KEY")
    p.add_argument(
        "--usernames",
        type=_names,
        metavar="A,B",
        help="only these learners (a failing one gets notpassing); default: every enrolled learner",
    )
    p.add_argument(
        "--regenerate",
        type=_names,
        metavar="STATUSES",
        help="regenerate certificates in these statuses too: downloadable,error",
    )
    p.set_defaults(func=cmd_certificates_generate)
    p = certificates.add_parser(
        "verify",
        help="check a credential (file, - for stdin, or URL): exit 0 valid, 1 not, 2 unreadable",
    )
    p.add_argument("credential", metavar="FILE_OR_URL")
    p.set_defaults(func=cmd_certificates_verify)

    oneroster = sub.add_parser(
        "oneroster",
        help="OneRoster 1.2 provider and LTI NRPS: OAuth clients, CSV export, tombstones",
    ).add_subparsers(dest="oneroster_command", required=True, metavar="ACTION")
    p = oneroster.add_parser("export", help="write the roster as a OneRoster 1.2 CSV bulk zip")
    p.add_argument("file", metavar="FILE.zip")
    p.set_defaults(func=cmd_oneroster_export)
    client = oneroster.add_parser("client", help="OAuth 2 clients").add_subparsers(
        dest="client_command", required=True, metavar="ACTION"
    )
    p = client.add_parser(
        "create", help="create a client; prints client_id and client_secret (shown once)"
    )
    p.add_argument("name", help="who the client is (e.g. the LMS)")
    p.add_argument(
        "--scope",
        action="append",
        default=[],
        help=(
            "a scope it may ask for: roster-core.readonly, roster.readonly, "
            "roster-demographics.readonly (OneRoster) or contextmembership.readonly "
            "(LTI NRPS); repeat; default: all four"
        ),
    )
    p.set_defaults(func=cmd_oneroster_client_create)
    p = client.add_parser("list", help="list clients: id, state, name, scopes")
    p.set_defaults(func=cmd_oneroster_client_list)
    p = client.add_parser("revoke", help="revoke a client and its tokens")
    p.add_argument("client_id")
    p.set_defaults(func=cmd_oneroster_client_revoke)
    p = oneroster.add_parser(
        "tombstones",
        help="derive the tombstones of deleted objects from the audit log now, and prune "
        "those past ROLLBOOK_ONEROSTER_TOMBSTONE_RETENTION_DAYS (reads do both on their own)",
    )
    p.set_defaults(func=cmd_oneroster_tombstones)

    sub.add_parser("manage", help="Django management commands (rollbook manage help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "manage":
        return cmd_manage(argparse.Namespace(), args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    func: Any = args.func
    return int(func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
