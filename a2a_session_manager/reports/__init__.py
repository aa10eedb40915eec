"""Reading recorded sessions back for people: summaries, terminal text and a
self-contained HTML report. ``a2a_session_manager.cli`` is a thin shell over this."""

from a2a_session_manager.reports._conversation import ConversationEntry, conversation
from a2a_session_manager.reports._format import json_safe, terminal_safe
from a2a_session_manager.reports._html import (
    export_html,
    render_report,
    report_data,
    report_filename,
)
from a2a_session_manager.reports._overview import (
    SessionOverview,
    SessionTree,
    session_tree,
    show_document,
)
from a2a_session_manager.reports._store_access import (
    find_overviews,
    list_overviews,
    load_session,
    open_store,
)
from a2a_session_manager.reports._text import render_list, render_show, render_tree, render_usage
from a2a_session_manager.reports._timeline import TimelineItem, timeline
from a2a_session_manager.reports._usage import UsageReport, UsageRow, format_cost, usage_report

__all__ = [
    "ConversationEntry",
    "SessionOverview",
    "SessionTree",
    "TimelineItem",
    "UsageReport",
    "UsageRow",
    "conversation",
    "export_html",
    "find_overviews",
    "format_cost",
    "json_safe",
    "list_overviews",
    "load_session",
    "open_store",
    "render_list",
    "render_report",
    "render_show",
    "render_tree",
    "render_usage",
    "report_data",
    "report_filename",
    "session_tree",
    "show_document",
    "terminal_safe",
    "timeline",
    "usage_report",
]
