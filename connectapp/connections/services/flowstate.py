"""Pending connection flows, kept in the browser's session until their callback.

A flow is single-use: its callback takes it out of the stored session under the session's
row lock, so a double-submitted callback exchanges its code or verifier once; starting a flow
writes the stored flows under the same lock, so a used flow never comes back.
"""

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils.translation import gettext

from connectapp import conf
from connectapp.exceptions import DecryptionError, FlowError
from connectapp.providers.base import Authorization, Provider

from .. import crypto

FLOWS_SESSION_KEY = "connectapp.flows"
MAX_PENDING_FLOWS = 10


def _flow_id(flow_key: str) -> str:
    """Sessions hold a digest of the flow key, not the key (a request token is a credential)."""
    return hashlib.sha256(flow_key.encode()).hexdigest()


def _live(flows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    oldest = time.time() - conf.value("FLOW_TTL_SECONDS").total_seconds()
    return {key: flow for key, flow in flows.items() if flow["started"] >= oldest}


def _stored_flows(session: SessionBase) -> dict[str, dict[str, Any]]:
    """Return the flows of the stored session, its row locked until the caller's transaction
    ends; the request's copy of the session may be stale (another tab may have used a flow)."""
    if session.session_key is None:
        return session.get(FLOWS_SESSION_KEY, {})  # a new session: nothing stored yet
    stored = (
        session.model.objects.select_for_update().filter(session_key=session.session_key).first()
    )
    return session.decode(stored.session_data).get(FLOWS_SESSION_KEY, {}) if stored else {}


def keep_flow(session: SessionBase, user, provider: Provider, authorization: Authorization) -> None:
    """Keep a started flow in the session, its secrets encrypted; the oldest go past a few.

    The flows are read from the stored session under its row lock and saved at once, as a
    callback takes one: a flow another tab's callback used meanwhile is not brought back.
    """
    with transaction.atomic():
        flows = _live(_stored_flows(session))
        while len(flows) >= MAX_PENDING_FLOWS:
            flows.pop(min(flows, key=lambda key: flows[key]["started"]))
        flows[_flow_id(authorization.flow_key)] = {
            "provider": provider.name,
            "user": user.pk,
            "started": time.time(),
            "pending": crypto.encrypt(json.dumps(authorization.pending)),
        }
        session[FLOWS_SESSION_KEY] = flows
        session.save()


def _pop_flow_once(session: SessionBase, flow_id: str) -> dict[str, Any] | None:
    """Take a flow out of the stored session under its row lock, and save at once.

    Two callbacks of one browser session racing (a double submit at the provider) both loaded
    the session before either saved it; reading the stored copy under the lock lets only the
    first take the flow, so a code or verifier is never exchanged twice.
    """
    if session.session_key is None:
        return None
    with transaction.atomic():
        flows = _stored_flows(session)
        flow = flows.pop(flow_id, None)
        if flow is not None:
            session[FLOWS_SESSION_KEY] = flows
            session.save()
    return flow


def take_flow(
    session: SessionBase, user, provider: Provider, params: Mapping[str, str]
) -> dict[str, Any]:
    """Remove the callback's flow from the session (it is single-use); return its secrets."""
    flow_key = provider.flow_key(params)
    if not flow_key:
        raise FlowError(
            gettext(
                "The answer from %(provider)s is missing what identifies this connection "
                "attempt. Please start again."
            )
            % {"provider": provider.display_name}
        )
    flow = _pop_flow_once(session, _flow_id(flow_key))
    if flow is None:
        raise FlowError(
            gettext(
                "This connection attempt is unknown: it was already used, or it was started in "
                "another browser session. Please start again."
            )
        )
    if flow["provider"] != provider.name or flow["user"] != user.pk:
        raise FlowError(
            gettext("This connection attempt belongs to someone else. Please start again.")
        )
    if flow["started"] < time.time() - conf.value("FLOW_TTL_SECONDS").total_seconds():
        raise FlowError(gettext("This connection attempt has expired. Please start again."))
    try:
        return json.loads(crypto.decrypt(flow["pending"]))
    except DecryptionError:
        # Started under an encryption key that has since been removed from the list.
        raise FlowError(
            gettext("This connection attempt can no longer be read. Please start again.")
        ) from None
