"""Signals sent after a link's state change commits, one per event type and one for all.

Every signal is sent with `sender=LinkedAccount` and the keyword arguments `event_id`,
`type`, `timestamp` (a datetime), `link` (the dict a webhook's `data.link` holds) and `actor`.
A receiver that raises is logged and never undoes or breaks the change::

    from django.dispatch import receiver
    from connectapp.connections import signals

    @receiver(signals.link_needs_reconnect)
    def tell_support(sender, link, actor, **kwargs):
        ...
"""

from django.dispatch import Signal

#: Every event, whatever its type.
link_event = Signal()

link_connected = Signal()
link_reconnected = Signal()
link_refreshed = Signal()
link_verified = Signal()
link_needs_reconnect = Signal()
link_recovered = Signal()
link_error = Signal()
link_disconnected = Signal()
app_token_obtained = Signal()
app_token_failed = Signal()

#: The signal of each event type.
BY_TYPE = {
    "link.connected": link_connected,
    "link.reconnected": link_reconnected,
    "link.refreshed": link_refreshed,
    "link.verified": link_verified,
    "link.needs_reconnect": link_needs_reconnect,
    "link.recovered": link_recovered,
    "link.error": link_error,
    "link.disconnected": link_disconnected,
    "app_token.obtained": app_token_obtained,
    "app_token.failed": app_token_failed,
}
