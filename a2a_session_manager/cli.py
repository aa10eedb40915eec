"""``a2a-sessions``: read recorded sessions from any store, in a terminal or a browser.

This module parses arguments and dispatches; the work is in
``a2a_session_manager.reports``. Everything it prints (reports, JSON, errors,
warnings) shows control characters escaped: recorded text never drives the
terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from a2a_session_manager.reports import (
    export_html,
    find_overviews,
    json_safe,
    list_overviews,
    load_session,
    open_store,
    render_list,
    render_show,
    render_tree,
    render_usage,
    session_tree,
    show_document,
    terminal_safe,
    usage_report,
)
from a2a_session_manager.storage.base import SessionStore
from a2a_session_manager.storage.errors import (
    InvalidSessionIdError,
    SessionCorruptedError,
    SessionNotFoundError,
    StoreUnavailableError,
)
from a2a_session_manager.storage.factory import STORE_URL_ENV, UnknownStoreURLError
from a2a_session_manager.storage.query import InvalidCursorError, Scalar, SessionQuery

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # unknown session id, or a usage error (memory:// store, bad strategy ...)
EXIT_BAD_ARGUMENTS = 2  # argparse's own code for arguments it cannot parse
EXIT_STORE_UNAVAILABLE = 3  # the store cannot be reached or does not exist
EXIT_CORRUPTED = 4  # stored data exists but cannot be read back

STORE_ENV = STORE_URL_ENV
DEFAULT_STORE = "file://./sessions"
JSON_VERSION = 1
PROGRESS_THRESHOLD = 100  # listings of more sessions report progress even off a terminal

_EPILOG = f"""\
store URL: --store, else ${STORE_ENV}, else {DEFAULT_STORE}
  file://DIR               a directory written by the file store
  redis://HOST:PORT/DB     a Redis server (needs a2a-session-manager[redis])
  redis://USER:PASSWORD@HOST:PORT/DB, rediss://...   an ACL user; TLS
  memory:// is refused: it only exists inside the process that recorded it.

--json output is one JSON object with "version": {JSON_VERSION}; fields are only ever added.

exit codes:
  0  success
  1  session not found, or a usage error (memory:// store, unknown strategy, bad id)
  2  arguments that cannot be parsed
  3  store unavailable (cannot connect, directory missing, driver not installed)
  4  stored data that cannot be read back (a listing still prints the rest)
"""


class _Fail(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _emit_json(document: dict[str, Any], out: TextIO) -> None:
    text = json.dumps({"version": JSON_VERSION, **document}, ensure_ascii=False, indent=2)
    out.write(json_safe(text) + "\n")


def _warn(err: TextIO, message: str) -> None:
    err.write(f"a2a-sessions: {terminal_safe(message)}\n")


class _EscapingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record), keep_lines=True)


def _log_warnings_to(err: TextIO) -> logging.Handler:
    """Stores' warnings (a log skipped while listing ...) on stderr, escaped."""
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_EscapingFormatter("a2a-sessions: warning: %(message)s"))
    logging.getLogger("a2a_session_manager").addHandler(handler)
    return handler


def _progress_printer(enabled: bool | None, err: TextIO) -> Callable[[int, int], None]:
    tty = err.isatty()

    def report(done: int, total: int) -> None:
        if total == 0:  # not known in advance: every PROGRESS_THRESHOLD sessions
            if enabled is False or (enabled is None and not tty) or done % PROGRESS_THRESHOLD:
                return
            err.write(f"reading sessions {done}\n")
            err.flush()
            return
        if enabled is False or (enabled is None and not tty and total <= PROGRESS_THRESHOLD):
            return
        if tty:
            err.write(f"\rreading sessions {done}/{total}")
            if done == total:
                err.write("\n")
        elif done == total or done % max(total // 10, 1) == 0 or done == 1:
            err.write(f"reading sessions {done}/{total}\n")
        err.flush()

    return report


def _query_from(args: argparse.Namespace) -> SessionQuery:
    return SessionQuery(
        since=args.since,
        until=args.until,
        user=args.user,
        properties=dict(args.where or []),
        has_errors=args.has_errors,
        min_cost=args.min_cost,
        max_cost=args.max_cost,
        min_tokens=args.min_tokens,
        parent_id=args.parent,
    )


def _cmd_list(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    query = _query_from(args)
    next_cursor: str | None = None
    if query == SessionQuery() and args.cursor is None and args.limit is None:
        # Everything: read every session the store lists (a known total).
        overviews, unreadable = list_overviews(store, _progress_printer(args.progress, err))
    else:
        # The store's index finds the matching sessions; only those are read.
        progress = _progress_printer(args.progress, err)
        try:
            overviews, unreadable, next_cursor = find_overviews(
                store,
                query,
                limit=args.limit,
                cursor=args.cursor,
                progress=lambda done, _: progress(done, args.limit or 0),
            )
        except InvalidCursorError as exc:
            raise _Fail(str(exc), EXIT_NOT_FOUND) from exc
        if args.limit is None:
            progress(len(overviews) + len(unreadable), len(overviews) + len(unreadable))
    for session_id, why in unreadable.items():
        _warn(err, f"cannot read session {session_id!r}: {why}")
    if args.json:
        _emit_json(
            {
                "sessions": [o.as_dict() for o in overviews],
                "unreadable": sorted(unreadable),
                "next_cursor": next_cursor,
            },
            out,
        )
    else:
        out.write(render_list(overviews) + "\n")
        if next_cursor is not None:
            err.write(f"more: --cursor {next_cursor}\n")
    return EXIT_CORRUPTED if unreadable else EXIT_OK


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _moment(text: str) -> datetime:
    """An ISO 8601 date or time (UTC when no zone is given), or an age such as
    ``30m``, ``12h`` or ``7d`` (that long ago)."""
    unit = _UNITS.get(text[-1:])
    if unit is not None and text[:-1].replace(".", "", 1).isdigit():
        return datetime.now(UTC) - timedelta(seconds=float(text[:-1]) * unit)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use an ISO date or time (2025-05-01, 2025-05-01T12:00Z) or an age (7d)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _property_match(text: str) -> tuple[str, Scalar]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: use KEY=VALUE")
    try:
        value = json.loads(raw)
    except ValueError:
        return key, raw
    return (key, value) if isinstance(value, str | int | float | bool) else (key, raw)


def _cmd_show(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    session = load_session(store, args.session_id)
    if args.json:
        _emit_json(show_document(session), out)
    else:
        out.write(render_show(session, full=args.full) + "\n")
    return EXIT_OK


def _cmd_tree(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    tree = session_tree(load_session(store, args.session_id), store)
    if args.json:
        _emit_json(tree.as_dict(), out)
    else:
        out.write(render_tree(tree) + "\n")
    return EXIT_OK


def _cmd_usage(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = usage_report(load_session(store, args.session_id), store)
    if args.json:
        _emit_json(report.as_dict(), out)
    else:
        out.write(render_usage(report) + "\n")
    return EXIT_OK


def _cmd_prompt(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Imported here so every other command works without the prompt builder.
    from a2a_session_manager.prompts import PromptStrategy, build_prompt_from_session
    from a2a_session_manager.tokens.counting import count_chat_tokens

    session = load_session(store, args.session_id)
    name = args.strategy
    strategy = PromptStrategy[name.upper()] if name.upper() in PromptStrategy.__members__ else name
    try:
        messages = build_prompt_from_session(
            session,
            strategy,
            max_tokens=args.max_tokens,
            model=args.model,
            include_parent_context=args.include_parent_context,
            current_query=args.query,
            store=store,
            run_id=args.run,
        )
    except ValueError as exc:
        raise _Fail(str(exc), EXIT_NOT_FOUND) from exc
    _emit_json(
        {
            "session_id": session.id,
            "strategy": PromptStrategy(strategy).value,
            "model": args.model,
            "max_tokens": args.max_tokens,
            "prompt_tokens": count_chat_tokens(messages, args.model),
            "messages": messages,
        },
        out,
    )
    return EXIT_OK


def _cmd_export(store: SessionStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    session = load_session(store, args.session_id)
    try:
        written = export_html(session, store, Path(args.html), with_children=args.with_children)
    except OSError as exc:  # the output file, not the store
        raise _Fail(f"cannot write the report: {exc}", EXIT_NOT_FOUND) from exc
    for path in written:
        err.write(f"wrote {terminal_safe(str(path))}\n")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        metavar="URL",
        help=f"store URL (default: ${STORE_ENV} or {DEFAULT_STORE})",
    )
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--json", action="store_true", help="print stable JSON instead of text")
    one = argparse.ArgumentParser(add_help=False)
    one.add_argument("session_id", metavar="ID", help="session id")

    parser = argparse.ArgumentParser(
        prog="a2a-sessions",
        description="Read recorded agent sessions: list, inspect, cost, next prompt, HTML report.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--store", metavar="URL", help=f"store URL (default: ${STORE_ENV} or {DEFAULT_STORE})"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, help_text: str, *parents: argparse.ArgumentParser
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common, *parents],
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("list", "sessions, newest first, with runs, events, tokens and cost", listing)
    p.add_argument(
        "--limit", type=_positive_int, metavar="N", help="show only the N most recently updated"
    )
    p.add_argument("--cursor", metavar="C", help="continue after the page that printed C")
    p.add_argument("--since", type=_moment, metavar="WHEN", help="updated at or after WHEN")
    p.add_argument("--until", type=_moment, metavar="WHEN", help="updated at or before WHEN")
    p.add_argument("--user", help='sessions whose "user" property is USER')
    p.add_argument(
        "--where",
        type=_property_match,
        action="append",
        metavar="KEY=VALUE",
        help="a property equal to VALUE (JSON scalars match as such: 3, true; else text)",
    )
    p.add_argument("--min-cost", type=float, metavar="USD", help="cost at least USD")
    p.add_argument("--max-cost", type=float, metavar="USD", help="cost at most USD")
    p.add_argument("--min-tokens", type=int, metavar="N", help="at least N tokens")
    p.add_argument("--parent", metavar="ID", help="the children of session ID")
    p.add_argument(
        "--errors",
        dest="has_errors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only sessions with (--errors) or without (--no-errors) a failed call or run",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=(
            f"progress on stderr (default: on a terminal, or beyond {PROGRESS_THRESHOLD} sessions)"
        ),
    )
    p.set_defaults(handler=_cmd_list)

    p = add(
        "show", "a session: its runs, then every event in order with its tool calls", one, listing
    )
    p.add_argument("--full", action="store_true", help="do not shorten long messages")
    p.set_defaults(handler=_cmd_show)

    p = add("tree", "the session hierarchy the session belongs to", one, listing)
    p.set_defaults(handler=_cmd_tree)

    p = add("usage", "tokens and cost by model, source and run", one, listing)
    p.set_defaults(handler=_cmd_usage)

    p = add("prompt", "the next prompt built from the session, as JSON", one)
    p.add_argument(
        "--strategy",
        default="conversation",
        help="minimal, task, tool, conversation or hierarchical (default: conversation)",
    )
    p.add_argument("--max-tokens", type=int, metavar="N", help="truncate to N prompt tokens")
    p.add_argument("--model", default="gpt-4o-mini", help="model whose tokenizer counts")
    p.add_argument("--query", help="add this as the final user message")
    p.add_argument("--run", metavar="RUN_ID", help="build from this run (and its nested runs) only")
    p.add_argument(
        "--include-parent-context",
        action="store_true",
        help="with hierarchical: read the parent sessions' context",
    )
    p.set_defaults(handler=_cmd_prompt)

    p = add("export", "write a self-contained HTML report of the session", one)
    p.add_argument("--html", required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument(
        "--with-children",
        "--all",
        dest="with_children",
        action="store_true",
        help="also write every descendant's report next to FILE (linked from it)",
    )
    p.set_defaults(handler=_cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    url = getattr(args, "store", None) or os.environ.get(STORE_ENV) or DEFAULT_STORE
    handler = _log_warnings_to(err)
    try:
        store = open_store(url)
        try:
            code: int = args.handler(store, args, out, err)
        finally:
            store.close()
    except BrokenPipeError:
        # The reader (| head) went away: not an error; keep Python's exit quiet.
        # (Before OSError, of which it is a subclass.)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except _Fail as exc:
        _warn(err, str(exc))
        return exc.code
    except SessionNotFoundError as exc:
        _warn(err, str(exc))
        return EXIT_NOT_FOUND
    except (UnknownStoreURLError, InvalidSessionIdError) as exc:
        _warn(err, str(exc))
        return EXIT_NOT_FOUND
    except (StoreUnavailableError, OSError) as exc:
        _warn(err, f"store unavailable ({url_for_humans(url)}): {exc}")
        return EXIT_STORE_UNAVAILABLE
    except SessionCorruptedError as exc:
        _warn(err, f"stored data cannot be read: {exc}")
        return EXIT_CORRUPTED
    finally:
        logging.getLogger("a2a_session_manager").removeHandler(handler)
    return code


def url_for_humans(url: str) -> str:
    """``url`` without its password, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


if __name__ == "__main__":
    sys.exit(main())
