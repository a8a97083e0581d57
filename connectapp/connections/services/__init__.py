"""Every write to a link goes through here: connect, refresh, verify, disconnect, and the
tokens the site's code asks for. One sub-domain a module; this package is the public API.

Views, admin actions, Celery tasks and management commands are thin callers of these
functions. Locks are taken in them, at the call site, with `select_for_update()` inside
`transaction.atomic()`.
"""

from ..outcomes import TaskOutcome
from .app_tokens import app_access_token, app_session
from .connect import begin_connect, complete_connect
from .disconnect import disconnect, mark_needs_reconnect
from .events import record_event
from .flowstate import FLOWS_SESSION_KEY, MAX_PENDING_FLOWS
from .keys import rotate_keys
from .refresh import (
    ACCESS_TOKEN_MARGIN,
    RESCUED,
    SAVE_RETRY_DELAYS,
    RefreshOutcome,
    refresh,
)
from .retention import prune_announced_events, prune_routine_events
from .sweep import claim_due_refreshes, refresh_queued
from .tokens import authorized_session, get_access_token
from .verify import VerifyOutcome, verify

__all__ = [
    "ACCESS_TOKEN_MARGIN",
    "FLOWS_SESSION_KEY",
    "MAX_PENDING_FLOWS",
    "RESCUED",
    "SAVE_RETRY_DELAYS",
    "RefreshOutcome",
    "TaskOutcome",
    "VerifyOutcome",
    "app_access_token",
    "app_session",
    "authorized_session",
    "begin_connect",
    "claim_due_refreshes",
    "complete_connect",
    "disconnect",
    "get_access_token",
    "mark_needs_reconnect",
    "prune_announced_events",
    "prune_routine_events",
    "record_event",
    "refresh",
    "refresh_queued",
    "rotate_keys",
    "verify",
]
