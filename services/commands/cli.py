"""The `complaintflow` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from services.analytics.settings import AnalyticsSettings, local_read_key_file
from services.commands.mail import add_parser as add_mail
from services.commands.workers import WORKERS
from services.devstack.ports import free_port
from services.devstack.stack import stack_settings as settings
from services.intake.settings import IntakeSettings, local_api_key_file
from services.kernel.errors import ConfigError
from services.kernel.keyfile import KeyFile
from services.kernel.logs import setup_logging
from services.kernel.settings import Settings
from services.simulator.agents import DEMO_SLA_SCALE


def cmd_worker(args: argparse.Namespace) -> int:
    from services.commands.workers import handler_class, run_worker

    handler = handler_class(args.name)
    s = settings(handler.settings_class)
    setup_logging(s.log_level, worker=args.name, fmt=s.log_format)
    run_worker(args.name, s)
    return 0


def cmd_stack(args: argparse.Namespace) -> int:
    from services.devstack.ports import describe_exit
    from services.devstack.stack import (
        StackState,
        describe_worker,
        stack_down,
        stack_up,
        worker_status,
    )
    from services.kernel.kafka import ensure_topics

    s = Settings()
    if args.action == "up":
        s.pii_secret()  # made now, before any worker races to make it
        state = stack_up(s.home, bootstrap=s.kafka_bootstrap_servers, database_url=s.database_url)
        created = ensure_topics(
            s.model_copy(update={"kafka_bootstrap_servers": state.bootstrap_servers})
        )
        print(f"Topics created: {len(created)}")
        return 0
    if args.action == "down":
        print("Stopped." if stack_down(s.home) else "No stack recorded; nothing to stop.")
        return 0
    found = StackState.load(s.home.resolve())
    if found is None:
        print(json.dumps({"running": False}) if args.json else "No local stack is running.")
        return 1
    status = found.status(probe=worker_status)
    if args.json:
        print(json.dumps(status, indent=2, ensure_ascii=False))
    else:
        print(f"Kafka       {status['bootstrap_servers']}")
        print(f"PostgreSQL  {status['database_url']}")
        for w, said in zip(found.workers, status["workers"], strict=True):
            http = f"  HTTP {w.http_url}" if w.http_url else ""
            restarts = (
                f"  restarts {w.restarts} (last: {describe_exit(w.last_exit)})"
                if w.restarts or w.last_exit is not None
                else ""
            )
            print(
                f"{w.name:<12} pid {w.pid:<8} {w.metrics_url}  {'up' if w.alive() else 'down'}"
                + restarts
                + http
            )
            for line in describe_worker(said):
                print(line)
    return 0 if status["running"] else 1


def cmd_topics(args: argparse.Namespace) -> int:
    from schemas.registry import TOPICS
    from services.kernel.kafka import ensure_topics

    if args.markdown:
        from schemas.catalog import markdown
        from services.commands.workers import readers_by_topic

        print(markdown(readers_by_topic()))
        return 0
    if args.examples:
        from services.commands import examples

        print(examples.markdown())
        return 0
    s = settings(Settings)
    if args.create:
        created = ensure_topics(s)
        print(f"Created {len(created)} topic(s): {', '.join(created) or '-'}")
    for spec in TOPICS.values():
        policy = "compact" if spec.compacted else f"{spec.retention_ms // 86_400_000}d"
        print(f"{s.topic(spec.name):<32} partitions={spec.partitions} key={spec.key} {policy}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from services.sdk.submit import submit_lines

    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    with stream:
        summary = submit_lines(settings(Settings), stream, progress=not args.quiet)
    print(summary.render())
    return 0 if summary.failed == 0 else 1


def cmd_import(args: argparse.Namespace) -> int:
    from services.commands.importer import import_file

    path = Path(args.file)
    if not path.exists():
        raise RuntimeError(f"{path}: no such file")
    try:
        tally = import_file(
            settings(Settings),
            path,
            fmt=args.format,
            mapping_path=Path(args.mapping) if args.mapping else None,
            progress=not args.quiet,
        )
    except ValueError as exc:
        raise RuntimeError(f"{path}: {exc}") from exc
    print(tally.render())
    return 0


def cmd_classifier(args: argparse.Namespace) -> int:
    from services.commands import classifier
    from services.routing.settings import RoutingSettings

    s = settings(RoutingSettings)
    try:
        if args.action == "list":
            print(classifier.list_models(s))
            return 0
        if args.action == "retrain":
            print(classifier.retrain(s))
            return 0
        if args.action == "rollback":
            print(classifier.rollback(s))
            return 0
        if args.action == "activate":
            if not args.file:
                raise RuntimeError("classifier activate needs a VERSION (see classifier list)")
            print(classifier.activate(s, args.file))
            return 0
        if not args.file or not args.mapping:
            raise RuntimeError(f"classifier {args.action} needs FILE and --mapping MAP.yaml")
        path, mapping = Path(args.file), Path(args.mapping)
        if not path.exists():
            raise RuntimeError(f"{path}: no such file")
        if args.action == "train":
            print(classifier.train(s, path, mapping, progress=not args.quiet))
            return 0
        result = classifier.evaluate(
            s, path, mapping, folds=args.folds, model=args.model, progress=not args.quiet
        )
    except ValueError as exc:
        raise RuntimeError(f"{args.file or 'classifier'}: {exc}") from exc
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(classifier.render(result))
    if args.chart != "-":
        from services.commands.confusion_chart import write_chart

        title = f"{result.what}, routed at threshold {result.threshold:.2f}"
        chart = write_chart(result.scores, Path(args.chart), title=title)
        if not args.json:
            print(f"\nconfusion matrix: {chart}")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from services.commands.dead_letters import report

    if args.action == "replay":
        from services.commands.replay import Chosen, render, replay

        chosen = Chosen(
            reasons=tuple(args.reason or ()),
            topic=args.topic,
            since=args.since,
            until=args.until,
            ids=tuple(args.id or ()),
        )
        found = replay(settings(Settings), chosen, dry_run=args.dry_run)
        print(render(found, dry_run=args.dry_run))
        return 0 if all(r.value is not None for r in found) else 1
    print(report(settings(Settings), limit=args.limit, reveal=args.reveal))
    return 0


@contextmanager
def _bars(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback `(what, done, total)` drawing one bar per `what` on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description:<30}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), disable=quiet, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=max(total, done))

        yield progress


def cmd_audit(args: argparse.Namespace) -> int:
    from services.audit.report import as_json, as_text
    from services.audit.run import audit

    s = settings(Settings)
    mail_dir: Path | None = Path(args.mail_dir) if args.mail_dir else s.home / "mail"
    if args.mail_dir and not Path(args.mail_dir).is_dir():
        raise RuntimeError(f"{args.mail_dir}: no such folder of mails")
    if args.no_mail or (mail_dir is not None and not mail_dir.is_dir()):
        mail_dir = None
    with _bars(args.quiet) as progress:
        report = audit(
            s,
            as_of=args.as_of or datetime.now(UTC),
            grace=timedelta(seconds=args.grace),
            mail_dir=mail_dir,
            progress=progress,
        )
    print(as_json(report) if args.format == "json" else as_text(report, limit=args.limit))
    return 0 if report.balanced else 1


def cmd_keys(args: argparse.Namespace) -> int:
    from services.commands import keys

    if args.action == "rotate":
        rotated, text = keys.rotate(Settings())
        print(text)
        return 0 if rotated else 1
    s = settings(Settings)
    with _bars(args.quiet) as progress:
        if args.action == "status":
            found = keys.status(s, topic=not args.no_topic, progress=progress)
        else:
            done = keys.reseal(s, dry_run=args.dry_run, batch_size=args.batch, progress=progress)
    if args.action == "status":
        print(keys.render_status(s.pii_ring(), found))
        return 0
    print(keys.render_reseal(done, dry_run=args.dry_run))
    return 0 if not any(r.unreadable for r in done) else 1


def cmd_chaos(args: argparse.Namespace) -> int:
    from services.chaos.stack import run_on_own_stack

    return run_on_own_stack(
        complaints=args.complaints,
        seed=args.seed,
        faults=args.faults,
        spread=args.spread,
        drain_timeout=args.drain_timeout,
        fuzz=args.fuzz,
        brokers=args.brokers,
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.simulator.feed import run_feed
    from services.sla_timer.settings import SlaSettings

    # The agents keep the pace of the stack's SLA clocks: its CF_SLA_SCALE, else the demo's.
    scale = args.sla_scale or (
        SlaSettings().sla_scale if os.environ.get("CF_SLA_SCALE") else DEMO_SLA_SCALE
    )
    sent = run_feed(
        settings(Settings),
        rate=args.rate,
        duration=args.duration,
        seed=args.seed,
        out=Path(args.out) if args.out else None,
        progress=not args.quiet,
        scale=scale,
    )
    print(f"Simulated {sent} events.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from services.analytics.queries import show

    text = show(settings(Settings).db_url(), args.complaint)
    print(text)
    return 0 if not text.startswith("No complaint") else 1


def cmd_list(args: argparse.Namespace) -> int:
    from services.analytics.queries import Filters, list_complaints
    from services.notification.settings import NotificationSettings

    filters = Filters(
        status=args.status,
        department=args.department,
        priority=args.priority,
        category=args.category,
        channel=args.channel,
        place=args.place,
        breached=args.breached,
        sensitive=args.sensitive,
        repeat=args.repeat,
        since=args.since,
        until=args.until,
        customer_token=args.customer,
        limit=args.limit,
    )
    language = args.language or settings(NotificationSettings).notify_default_language
    print(list_complaints(settings(Settings).db_url(), filters, fmt=args.format, language=language))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from services.analytics.business_time import calendars
    from services.analytics.periods import period_of
    from services.analytics.report import write_report
    from services.sla_timer.settings import SlaSettings

    now = datetime.now(UTC)
    sla = settings(SlaSettings)
    try:
        period = period_of(args.period, start=args.start, end=args.end, now=now)
    except ValueError as exc:
        raise RuntimeError(str(exc)) from exc
    out = Path(args.out or f"complaints-report-{period.start:%Y%m%d}.{args.format}")
    write_report(
        sla.db_url(),
        period,
        out,
        business=calendars(sla.sla_policies_path, sla.sla_calendars_path),
        source=args.call_center,
        language=args.language,
        fmt=args.format,
        now=now,
        progress=not args.quiet,
    )
    print(f"Wrote the report of {period.label()} to {out}")
    return 0


def _instant(text: str) -> datetime:
    """A date or date-time on the command line; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[+zone])"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas.export import export
    from services.commands.workers import asyncapi_yaml

    written = export(Path(args.dir) if args.dir else None)
    print(f"Wrote {len(written)} schema files to {written[0].parent if written else '-'}")
    if not args.dir:
        from schemas.asyncapi import ASYNCAPI_FILE

        ASYNCAPI_FILE.write_text(asyncapi_yaml(), encoding="utf-8")
        print(f"Wrote the AsyncAPI document to {ASYNCAPI_FILE}")
    return 0


def cmd_k8s(args: argparse.Namespace) -> int:
    from services.commands.k8s import export

    written = export(Path(args.dir))
    print(f"Wrote {len(written)} Kubernetes manifests to {args.dir}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from services.devstack.mailcatcher import ChatCatcher, MailCatcher
    from services.devstack.run import run
    from services.sla_timer.settings import SlaSettings

    if not args.no_simulate:
        # The demo's shrunken SLAs belong to the demo: without the feed, real durations.
        os.environ.setdefault("CF_SLA_SCALE", str(DEMO_SLA_SCALE))
    settings = Settings()
    setup_logging(
        "WARNING",
        worker="complaintflow",
        fmt=settings.log_format,
        file=settings.home / "logs" / "run.log",
    )
    worker_env: dict[str, dict[str, Any]] = {
        "intake": _intake_api(IntakeSettings()),
        "analytics": _analytics_api(AnalyticsSettings()),
    }
    catcher = chat = None
    intake_url = worker_env["intake"].get("http_url") or ""
    survey = intake_url.replace("/v1/events", "/v1/survey")  # customers answer there
    worker_env["notification"] = {"env": {"CF_NOTIFY_SURVEY_URL": survey} if survey else {}}
    if not os.environ.get("CF_SMTP_HOST"):  # a local mail catcher: read what was sent
        catcher = MailCatcher(settings.home.resolve() / "mail").start()
        worker_env["notification"]["env"].update(catcher.env)
        if not os.environ.get("CF_CHAT_WEBHOOK_URL"):  # staff chat lands beside the mails
            chat = ChatCatcher(catcher.handler).start()
            worker_env["notification"]["env"].update(chat.env)
    try:
        return run(
            settings,
            workers=list(WORKERS),
            worker_env=worker_env,
            simulate=not args.no_simulate,
            rate=args.rate,
            seed=args.seed,
            sla_scale=SlaSettings().sla_scale,
        )
    finally:
        if chat is not None:
            chat.stop()
        if catcher is not None:
            catcher.stop()


def cmd_mail(args: argparse.Namespace) -> int:
    from services.commands.mail import cmd_mail as mail
    from services.notification.settings import NotificationSettings

    return mail(args, Settings().home / "mail", NotificationSettings().routing_roster_path)


def _local_api(
    env: str, port: int | None, keys: SecretStr | None, key_file: KeyFile, *, name: str, path: str
) -> dict[str, Any]:
    """A worker's HTTP API for the local stack: its port (or a free one), and its keys (or one
    made once per home, offered as `name=KEY`); `env` is the variables' prefix."""
    port = port or free_port()
    given = keys.get_secret_value() if keys is not None else f"{name}={key_file.read()}"
    return {
        "env": {f"{env}_HTTP_PORT": str(port), f"{env}_API_KEYS": given},
        "http_url": f"http://127.0.0.1:{port}{path}",
    }


def _intake_api(s: IntakeSettings) -> dict[str, Any]:
    """Intake's HTTP API: any source may submit with the local key."""
    return _local_api(
        "CF_INTAKE",
        s.intake_http_port,
        s.intake_api_keys,
        local_api_key_file(s.home),
        name="*",
        path="/v1/events",
    )


def _analytics_api(s: AnalyticsSettings) -> dict[str, Any]:
    """The archive's read API."""
    return _local_api(
        "CF_ANALYTICS",
        s.analytics_http_port,
        s.analytics_api_keys,
        local_read_key_file(s.home),
        name="local",
        path="/v1/complaints",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="complaintflow", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="local stack + all workers + simulated feed, live view")
    r.add_argument(
        "--no-simulate",
        action="store_true",
        help="run without the simulated feed, on real SLA durations",
    )
    r.add_argument("--rate", type=float, default=20.0, help="simulated events per second")
    r.add_argument("--seed", type=int, default=7)
    r.set_defaults(func=cmd_run)

    w = sub.add_parser("worker", help="run one worker process")
    w.add_argument("name", choices=list(WORKERS))
    w.set_defaults(func=cmd_worker)

    st = sub.add_parser("stack", help="start, stop or inspect the local broker and database")
    st.add_argument("action", choices=("up", "down", "status"))
    st.add_argument("--json", action="store_true", help="machine-readable status")
    st.set_defaults(func=cmd_stack)

    t = sub.add_parser("topics", help="list (and create) the topics of the registry")
    t.add_argument("--create", action="store_true", help="create the missing topics")
    t.add_argument("--markdown", action="store_true", help="the README's topic catalog")
    t.add_argument(
        "--examples", action="store_true", help="the README's example message of every topic"
    )
    t.set_defaults(func=cmd_topics)

    sb = sub.add_parser("submit", help="send JSONL raw events to complaints.raw.v1")
    sb.add_argument("file", nargs="?", default="-", help="JSONL file, or - for stdin")
    sb.add_argument("--quiet", action="store_true")
    sb.set_defaults(func=cmd_submit)

    im = sub.add_parser("import", help="bulk import a CSV export (resumable)")
    im.add_argument("file")
    im.add_argument("--format", choices=("cfpb", "csv"), required=True)
    im.add_argument("--mapping", help="YAML mapping of columns to event fields (--format csv)")
    im.add_argument("--quiet", action="store_true")
    im.set_defaults(func=cmd_import)

    cl = sub.add_parser(
        "classifier",
        help="train, evaluate, retrain, list, activate or roll back the routing classifier",
    )
    cl.add_argument(
        "action", choices=("train", "evaluate", "retrain", "list", "activate", "rollback")
    )
    cl.add_argument(
        "file",
        nargs="?",
        metavar="FILE|VERSION",
        help="labelled CSV export (train, evaluate); the version to activate (3 or v3)",
    )
    cl.add_argument("--format", choices=("csv",), default="csv")
    cl.add_argument(
        "--mapping", help="YAML mapping: columns.description (and/or subject) and category"
    )
    cl.add_argument("--folds", type=int, default=5, help="k of the k-fold cross-validation")
    cl.add_argument(
        "--model", help="evaluate this stored model on FILE instead: a version, latest or default"
    )
    cl.add_argument(
        "--chart",
        default="confusion-matrix.png",
        help="where evaluate writes the confusion-matrix PNG (- for none)",
    )
    cl.add_argument("--json", action="store_true", help="evaluate's figures as JSON")
    cl.add_argument("--quiet", action="store_true", help="no progress bars")
    cl.set_defaults(func=cmd_classifier)

    dl = sub.add_parser("dead-letters", help="what was rejected, by reason, and the latest")
    dl.add_argument("--limit", type=int, default=10, help="latest dead letters to show")
    dl.add_argument(
        "--reveal", action="store_true", help="decrypt sealed originals (may show customer data)"
    )
    dl.add_argument(
        "action",
        nargs="?",
        choices=("replay",),
        help="replay: send the chosen dead letters' originals again to their topic",
    )
    dl.add_argument("--reason", action="append", help="replay: only this reason (repeatable)")
    dl.add_argument(
        "--topic", default="complaints.raw.v1", help="replay: letters of this source topic"
    )
    dl.add_argument("--since", type=_instant, help="replay: rejected at or after")
    dl.add_argument("--until", type=_instant, help="replay: rejected before")
    dl.add_argument(
        "--id", action="append", help="replay: a dead letter's ce_id or source:event_id"
    )
    dl.add_argument("--dry-run", action="store_true", help="replay: list, send nothing")
    dl.set_defaults(func=cmd_dead_letters)

    au = sub.add_parser(
        "audit", help="prove the books balance: topics, worker tables, archive and mail agree"
    )
    au.add_argument("--format", choices=("text", "json"), default="text")
    au.add_argument(
        "--grace",
        type=float,
        default=60.0,
        help="seconds a due SLA step or notice may still be on its way (default 60)",
    )
    au.add_argument(
        "--as-of",
        type=_instant,
        help="judge what was due as of this time (default: now; e.g. when the workers stopped)",
    )
    au.add_argument(
        "--mail-dir", help="the mail catcher's folder (default: CF_HOME/mail, if it exists)"
    )
    au.add_argument("--no-mail", action="store_true", help="do not check delivered mail")
    au.add_argument("--limit", type=int, default=50, help="complaints to list (text format)")
    au.add_argument("--quiet", action="store_true", help="no progress on stderr")
    au.set_defaults(func=cmd_audit)

    ch = sub.add_parser(
        "chaos",
        help="kill workers, cut the database, lose a broker of three under load; then audit",
    )
    ch.add_argument("--complaints", type=int, default=2000, help="complaints in the load")
    ch.add_argument("--seed", type=int, help="the run's seed (default: a random one, printed)")
    ch.add_argument("--faults", type=int, default=24, help="faults to inject")
    ch.add_argument(
        "--spread", type=float, default=120.0, help="seconds over which load and faults come"
    )
    ch.add_argument(
        "--drain-timeout", type=float, default=600.0, help="seconds to wait for the books"
    )
    ch.add_argument(
        "--fuzz",
        type=int,
        default=100_000,
        help="generated inputs for the fuzz of every way in afterwards (0: none)",
    )
    ch.add_argument(
        "--brokers",
        type=int,
        choices=(1, 3),
        default=3,
        help="Kafka nodes: a three-node cluster (a broker lost among the faults) or one broker",
    )
    ch.set_defaults(func=cmd_chaos)

    sm = sub.add_parser("simulate", help="a simulated call-center feed")
    sm.add_argument("--rate", type=float, default=50.0, help="events per second")
    sm.add_argument("--duration", type=float, default=60.0, help="seconds")
    sm.add_argument("--seed", type=int, default=7)
    sm.add_argument(
        "--sla-scale",
        type=float,
        help="the stack's CF_SLA_SCALE, so agents keep its pace (default: CF_SLA_SCALE, else "
        "the demo's)",
    )
    sm.add_argument("--out", help="write JSONL here instead of producing to Kafka")
    sm.add_argument("--quiet", action="store_true")
    sm.set_defaults(func=cmd_simulate)

    sh = sub.add_parser("show", help="a complaint's timeline from the archive")
    sh.add_argument("complaint", help="complaint id or reference (CF-XXXX-XXXX)")
    sh.set_defaults(func=cmd_show)

    ls = sub.add_parser("list", help="complaints from the archive, newest first, filtered")
    ls.add_argument("--status")
    ls.add_argument("--department")
    ls.add_argument("--priority", choices=("P1", "P2", "P3", "P4"))
    ls.add_argument("--category")
    ls.add_argument("--channel")
    ls.add_argument(
        "--place", help="where the problem is, exactly as archived (lat,lon: to 3 decimals)"
    )
    for flag, what in (
        ("breached", "an SLA target breached"),
        ("sensitive", "marked sensitive (media, regulator, court threats)"),
        ("repeat", "a repeat of an earlier complaint"),
    ):
        ls.add_argument(
            f"--{flag}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"only those (--no-{flag}: only those not) {what}",
        )
    ls.add_argument("--since", type=_instant, help="registered at or after (date or date-time)")
    ls.add_argument("--until", type=_instant, help="registered before (date or date-time)")
    ls.add_argument("--customer", help="a customer token (as on the registered topic)")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.add_argument(
        "--language",
        choices=("zh-Hans", "zh-Hant", "en"),
        help="categories by their names in this language (default: the call center's"
        " default language, CF_NOTIFY_DEFAULT_LANGUAGE)",
    )
    ls.set_defaults(func=cmd_list)

    rp = sub.add_parser("report", help="the period report for managers (HTML, CSV or PDF)")
    rp.add_argument(
        "--period",
        choices=("day", "week", "month"),
        default="week",
        help="the last whole one before today (default: week), or its length from --from/--to",
    )
    rp.add_argument("--from", dest="start", type=_instant, help="event time from (date/time)")
    rp.add_argument("--to", dest="end", type=_instant, help="event time until, exclusive")
    rp.add_argument("--call-center", help="only this call center (its source name)")
    rp.add_argument("--language", choices=("en", "zh-Hans", "zh-Hant"), default="en")
    rp.add_argument("--format", choices=("html", "csv", "pdf"), default="html")
    rp.add_argument("--out", help="output file (default: complaints-report-START.FORMAT)")
    rp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    rp.set_defaults(func=cmd_report)

    add_mail(sub).set_defaults(func=cmd_mail)

    sc = sub.add_parser("schemas", help="export JSON Schema of every topic")
    sc.add_argument("action", choices=("export",))
    sc.add_argument("--dir", help="output directory (default: schemas/json)")
    sc.set_defaults(func=cmd_schemas)

    ky = sub.add_parser("keys", help="rotate the PII key ring, reseal stored data, key status")
    ky.add_argument(
        "action",
        choices=("rotate", "reseal", "status"),
        help="rotate: new primary key in HOME/pii.keys; reseal: stored rows under the "
        "primary key (resumable); status: rows sealed under each key",
    )
    ky.add_argument("--dry-run", action="store_true", help="reseal: count, change nothing")
    ky.add_argument("--batch", type=int, default=500, help="reseal: rows a transaction")
    ky.add_argument(
        "--no-topic", action="store_true", help="status: skip the dead letters on the topic"
    )
    ky.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ky.set_defaults(func=cmd_keys)

    k8 = sub.add_parser("k8s", help="export the Kubernetes manifests made from the registries")
    k8.add_argument("action", choices=("export",))
    k8.add_argument("--dir", default="deploy/k8s", help="output directory (default: deploy/k8s)")
    k8.set_defaults(func=cmd_k8s)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, where a reader that went away can be told apart
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`complaintflow list | head`): not an error of ours. Point
        # stdout at nothing so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (RuntimeError, ConfigError) as exc:
        print(f"complaintflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
