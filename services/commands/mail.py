"""`complaintflow mail`: what the local catcher received (mails and chat posts), listed with
filters — by kind, by recipient (a person, an address or a role of the escalation chain), by
reference, by channel — or one shown whole."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from services.devstack.mailcatcher import Caught, read_mail
from services.notification.directory import LEVELS, MANAGEMENT, Directory, load_directory

ROLES = (*LEVELS, "management", "staff", "customer")


def addresses(directory: Directory, role: str) -> set[str]:
    """The email addresses and chat handles of everyone who holds `role` in any department's
    chain (`management`: the people told at once of P1, sensitive and special-period
    complaints; `staff`: everyone in the roster)."""
    if role in ("staff", "customer"):
        people = list(directory.people.values())
    else:
        levels = MANAGEMENT if role == "management" else (role,)
        people = [
            p
            for chain in directory.chains.values()
            for level in levels
            if (p := directory.person(getattr(chain, level, None))) is not None
        ]
    return {a.lower() for p in people for a in (p.email, p.chat) if a}


def matches(
    m: Caught,
    *,
    kind: str | None,
    to: str | None,
    reference: str | None,
    channel: str | None,
    directory: Directory | None,
) -> bool:
    """Whether mail `m` passes every filter given (None: no filter)."""
    if channel and m.channel != channel:
        return False
    if kind and str(m.message["X-ComplaintFlow-Kind"] or "") != kind:
        return False
    if reference and reference.lower() not in m.subject.lower():
        return False
    if to:
        rcpts = {r.lower() for r in m.recipients}
        if to in ROLES and directory is not None:
            staff = addresses(directory, to)
            return not rcpts & staff if to == "customer" else bool(rcpts & staff)
        wanted = to.lower()
        person = directory.person(to) if directory is not None else None
        if person is not None:
            return bool(rcpts & {a.lower() for a in (person.email, person.chat) if a})
        return any(wanted in r for r in rcpts) or wanted in str(m.message["To"] or "").lower()
    return True


def listing(mails: list[Caught], shown: Iterable[tuple[int, Caught]], total_matching: int) -> str:
    """The list lines and a last line saying how many are not shown, and why."""
    rows = [
        f"{i:>5}  {m.message['Date']}  {m.channel:<5}  {', '.join(m.recipients):<40}  {m.subject}"
        for i, m in shown
    ]
    hidden_by_limit = total_matching - len(rows)
    filtered = len(mails) - total_matching
    notes = []
    if hidden_by_limit:
        notes.append(f"{hidden_by_limit} older not shown (--all, or --limit N)")
    if filtered:
        notes.append(f"{filtered} filtered out")
    rows.append(f"{len(rows)} of {len(mails)} shown" + (f"; {'; '.join(notes)}" if notes else ""))
    return "\n".join(rows)


def cmd_mail(args: argparse.Namespace, folder: Path, roster: Path | None) -> int:
    mails = read_mail(folder)
    if args.number is not None:
        if not 1 <= args.number <= len(mails):
            print(f"There are {len(mails)} mails; no number {args.number}.", file=sys.stderr)
            return 2
        m = mails[args.number - 1]
        for header in ("From", "To", "Date", "Subject", "Message-ID", "X-ComplaintFlow-Kind"):
            if m.message[header]:
                print(f"{header}: {m.message[header]}")
        print()
        print(m.part("html" if args.html else "plain"))
        return 0
    if not mails:
        print(f"No mail in {folder} (make run keeps what the workers send there).")
        return 0
    directory = load_directory(roster) if args.to else None
    picked = [
        (i, m)
        for i, m in enumerate(mails, start=1)
        if matches(
            m,
            kind=args.kind,
            to=args.to,
            reference=args.reference,
            channel=args.channel,
            directory=directory,
        )
    ]
    shown = picked if args.all else picked[-args.limit :] if args.limit > 0 else []
    print(listing(mails, shown, len(picked)))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    ml = sub.add_parser("mail", help="what the local mail catcher received (make run)")
    ml.add_argument("number", nargs="?", type=int, help="show this mail (from the list)")
    ml.add_argument("--limit", type=int, default=30, help="how many of the latest to list")
    ml.add_argument("--all", action="store_true", help="list every one that matches")
    ml.add_argument(
        "--kind",
        help="only mails of this kind: acknowledgement, sla_breach, … (chat posts have none)",
    )
    ml.add_argument(
        "--to",
        help="only to this person (roster id), address or name part, or role: " + ", ".join(ROLES),
    )
    ml.add_argument("--reference", help="only this complaint's (reference in the subject)")
    ml.add_argument("--channel", choices=("email", "chat"), help="only mails or chat posts")
    ml.add_argument("--html", action="store_true", help="show the HTML part")
    return ml
