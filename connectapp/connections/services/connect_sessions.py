"""Connect sessions: a backend sends one of its users here to connect their accounts.

The backend asks (`create_session`) with its own id for the user; the answer is a single-use
URL, valid for at most `CONNECTAPP_CONNECT_SESSION_TTL`. Whoever opens it (`open_session`) is
signed in, without a password, as the local user kept for that site id (made on first use;
the site id lives on `SiteUser`, beside the user model, so custom user models work), connects
through the normal flow, and is sent back to the session's `return_url` with the outcome
(`return_url_after`). Only the token's SHA-256 digest is stored.
"""

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from connectapp import conf
from connectapp.exceptions import InvalidConnectSession, SessionRefused, UnknownProvider
from connectapp.providers import registry

from ..crypto import digest
from ..models import ApiKey, ConnectSession, SiteUser

#: What the browser session remembers of the connect session it came from.
SESSION_KEY = "connectapp.connect_session"


@dataclass(frozen=True)
class NewConnectSession:
    """A session just made, with its token: shown once, in the URL, and never stored."""

    session: ConnectSession
    token: str


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def return_url_allowed(url: str) -> bool:
    """Return whether `url` is an absolute http(s) URL on an operator-allowed origin."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return False
    allowed = {origin.rstrip("/").lower() for origin in conf.value("CONNECT_RETURN_ORIGINS")}
    return _origin(url) in allowed


def create_session(
    api_key: ApiKey | None,
    *,
    site_id: str,
    providers: list[str],
    return_url: str,
    email: str = "",
    display_name: str = "",
) -> NewConnectSession:
    """Return a new single-use connect session for the site's user `site_id`.

    Raises `InvalidConnectSession` for an unknown or unconfigured provider, one the key may
    not use, or a return URL outside `CONNECTAPP_CONNECT_RETURN_ORIGINS`.
    """
    if not site_id.strip():
        raise InvalidConnectSession("user.id must not be empty.")
    if not providers:
        raise InvalidConnectSession("Name at least one provider.")
    for name in providers:
        try:
            provider = registry.get(name)
        except UnknownProvider:
            raise InvalidConnectSession(f"Unknown provider {name}.") from None
        if provider.app_level or not provider.configured:
            raise InvalidConnectSession(f"{name} is not a provider users can connect here.")
        if api_key is not None and not api_key.allows_provider(name):
            raise InvalidConnectSession(f"This key may not use {name}.")
    if not return_url_allowed(return_url):
        raise InvalidConnectSession(
            "return_url must be an http(s) URL on an origin in CONNECTAPP_CONNECT_RETURN_ORIGINS."
        )
    token = secrets.token_urlsafe(32)
    session = ConnectSession.objects.create(
        token_hash=digest(token),
        key=api_key,
        site_id=site_id,
        email=email,
        display_name=display_name,
        providers=list(dict.fromkeys(providers)),
        return_url=return_url,
        expires_at=timezone.now() + conf.value("CONNECT_SESSION_TTL_SECONDS"),
    )
    return NewConnectSession(session=session, token=token)


def find(token: str) -> ConnectSession | None:
    """Return the session `token` names, used or not, or None; changes nothing."""
    return ConnectSession.objects.filter(token_hash=digest(token)).first()


def refusal_of(session: ConnectSession | None) -> SessionRefused | None:
    """Return why `session` cannot be opened (unknown, used, expired), or None when it can."""
    if session is None:
        return SessionRefused(
            gettext("This connection link is not valid. Ask the site that sent you for a new one."),
            SessionRefused.Reason.UNKNOWN,
        )
    if session.used_at is not None:
        return SessionRefused(
            gettext(
                "This connection link was already used. Each link works once: ask the site "
                "that sent you for a new one."
            ),
            SessionRefused.Reason.USED,
        )
    if session.expires_at <= timezone.now():
        return SessionRefused(
            gettext("This connection link has expired. Ask the site that sent you for a new one."),
            SessionRefused.Reason.EXPIRED,
        )
    return None


def open_session(token: str):
    """Use the session `token` names once; return the local user to sign in and the session.

    Raises `SessionRefused` (and changes nothing) for an unknown, used or expired token.
    """
    with transaction.atomic():
        session = (
            ConnectSession.objects.select_for_update().filter(token_hash=digest(token)).first()
        )
        refusal = refusal_of(session)
        if refusal is not None:
            raise refusal
        session.used_at = timezone.now()
        session.save(update_fields=["used_at"])
        user = local_user(session.site_id, email=session.email, display_name=session.display_name)
    return user, session


def local_user(site_id: str, *, email: str = "", display_name: str = ""):
    """Return the local user kept for the site's user `site_id`, made on first use."""
    known = SiteUser.objects.select_related("user").filter(site_id=site_id).first()
    if known is not None:
        return known.user
    User = get_user_model()
    fields = {User.USERNAME_FIELD: f"site-{site_id}"[:150]}
    names = {field.name for field in User._meta.get_fields()}
    if email and "email" in names and User.USERNAME_FIELD != "email":
        fields["email"] = email
    if display_name and "first_name" in names:
        fields["first_name"] = display_name[:150]
    try:
        with transaction.atomic():
            user = User(**fields)
            user.set_unusable_password()
            user.save()
            SiteUser.objects.create(user=user, site_id=site_id)
    except IntegrityError:
        # Another session made this site user first, or the username is taken: look again.
        known = SiteUser.objects.select_related("user").filter(site_id=site_id).first()
        if known is not None:
            return known.user
        with transaction.atomic():
            fields[User.USERNAME_FIELD] = f"site-{secrets.token_hex(6)}"
            user = User(**fields)
            user.set_unusable_password()
            user.save()
            SiteUser.objects.create(user=user, site_id=site_id)
    return user


def remember(browser_session: SessionBase, session: ConnectSession) -> None:
    """Keep in the browser session where to send the person once a flow ends."""
    browser_session[SESSION_KEY] = {
        "id": session.pk,
        "providers": session.providers,
        "return_url": session.return_url,
    }


def remembered(browser_session: SessionBase) -> dict | None:
    """Return what `remember` kept, or None outside a connect session."""
    return browser_session.get(SESSION_KEY)


def return_url_after(
    browser_session: SessionBase, provider: str, outcome: str, connection_id: int | None = None
) -> str | None:
    """Return where to send the person after a flow of a connect session, with the outcome.

    None outside a connect session, or for a provider the session did not offer. The
    connect session ends here: the browser goes back to the site that sent it.
    """
    kept = remembered(browser_session)
    if kept is None or provider not in kept["providers"]:
        return None
    del browser_session[SESSION_KEY]
    parts = urlsplit(kept["return_url"])
    outcome_query = {"connectapp_outcome": outcome, "provider": provider}
    if connection_id is not None:
        outcome_query["connection"] = str(connection_id)
    query = "&".join(filter(None, [parts.query, urlencode(outcome_query)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
