"""`manage.py connections list|refresh|verify|rotate-keys|stats|webhooks`; no secret but a
new webhook endpoint's signing secret, once, is ever printed."""

import json
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectapp import conf
from connectapp.exceptions import (
    DecryptionError,
    InvalidEndpoint,
    InvalidKeyRequest,
    ProviderUnavailable,
    UnknownProvider,
)
from connectapp.providers import registry
from connectapp.redaction import terminal_text

from ... import selectors, services
from ...infra import metrics
from ...models import ApiKey, LinkedAccount, WebhookDelivery, WebhookEndpoint
from ...outcomes import TaskOutcome
from ...services import apikeys, webhooks

Status = LinkedAccount.Status


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _refreshing_providers() -> list[str]:
    return [provider.name for provider in registry.user_providers() if provider.supports_refresh]


def link_row(link: LinkedAccount) -> dict:
    return {
        "id": link.pk,
        # None for the site's own app-level (client credentials) connections.
        "user": link.user.get_username() if link.user is not None else None,
        "provider": link.provider,
        "external_id": link.external_id,
        "username": link.username,
        "status": link.status,
        "scopes": link.scopes,
        "expires_at": _iso(link.expires_at),
        "refresh_expires_at": _iso(link.refresh_expires_at),
        "last_refreshed_at": _iso(link.last_refreshed_at),
        "last_verified_at": _iso(link.last_verified_at),
        "last_error": link.last_error,
        "created_at": _iso(link.created_at),
    }


class Command(BaseCommand):
    help = "List, refresh, verify and re-encrypt linked accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        listing = sub.add_parser("list", help="list links (never their secrets)")
        listing.add_argument("--json", action="store_true", dest="as_json", help="a JSON array")
        listing.add_argument("--provider")
        listing.add_argument("--status", choices=Status.values)

        refresh = sub.add_parser("refresh", help="refresh access tokens, in this process")
        refresh.add_argument("--due", action="store_true", help="links within the refresh window")
        refresh.add_argument("--all", action="store_true", help="every active link, due or not")
        refresh.add_argument("ids", nargs="*", type=int, metavar="ID")

        verify = sub.add_parser("verify", help="check identities at the providers, in this process")
        verify.add_argument("--all", action="store_true", help="every live link")
        verify.add_argument("ids", nargs="*", type=int, metavar="ID")

        sub.add_parser("rotate-keys", help="re-encrypt every stored secret under the first key")

        stats = sub.add_parser("stats", help="the workers' outcomes, the refresh queue, the broker")
        stats.add_argument(
            "--prometheus", action="store_true", help="in Prometheus' text exposition format"
        )
        stats.add_argument("--reset", action="store_true", help="then start the counters anew")

        add_api_key_arguments(sub)
        webhook_parser = sub.add_parser("webhooks", help="webhook endpoints and their deliveries")
        hooks = webhook_parser.add_subparsers(dest="webhooks_action", required=True)
        add = hooks.add_parser("add", help="a new endpoint; prints its signing secret once")
        add.add_argument("url")
        add.add_argument("--events", default="", help="comma-separated event types (default all)")
        add.add_argument("--description", default="")
        hooks.add_parser("list", help="the endpoints and their deliveries' states")
        test = hooks.add_parser("test", help="send a webhook.test event to an endpoint, now")
        test.add_argument("endpoint_id", type=int, metavar="ID")
        redeliver = hooks.add_parser("redeliver", help="send a delivery again, now, same id")
        redeliver.add_argument("delivery_id", type=int, metavar="ID")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, "handle_" + action.replace("-", "_"))(**options)

    def handle_api_key(self, **options) -> None:
        handle_api_key(self, **options)

    def handle_list(self, *, as_json: bool, provider: str | None, status: str | None, **_) -> None:
        links = selectors.links().order_by("pk")
        if provider:
            links = links.filter(provider=provider)
        if status:
            links = links.filter(status=status)
        rows = [link_row(link) for link in links.iterator(chunk_size=1000)]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(
            f"{'ID':>6}  {'USER':<16} {'PROVIDER':<10} {'USERNAME':<20} {'STATUS':<16} EXPIRES"
        )
        for row in rows:
            name = terminal_text(row["username"] or row["external_id"])
            user = terminal_text(row["user"] or "(app)")
            self.stdout.write(
                f"{row['id']:>6}  {user[:16]:<16} {row['provider'][:10]:<10} "
                f"{name[:20]:<20} {row['status']:<16} {row['expires_at'] or '-'}"
            )
        self.stdout.write(f"{len(rows)} link(s)")

    def handle_refresh(self, *, due: bool, all: bool, ids: list[int], **_) -> None:
        self._one_selection(due=due, all=all, ids=ids)
        if due:
            names = _refreshing_providers()
            window = conf.value("REFRESH_WINDOW_SECONDS")
            due = (
                LinkedAccount.objects.filter(provider__in=names).due(window).order_by("expires_at")
            )
            targets = list(due.values_list("pk", flat=True))
        else:
            targets = self._existing(ids) or self._live_ids(Status.ACTIVE)
        self._report(
            targets, lambda link_id: services.refresh(link_id, actor="command", force=not due)
        )

    def handle_verify(self, *, all: bool, ids: list[int], **_) -> None:
        self._one_selection(all=all, ids=ids)
        self._report(
            self._existing(ids) or self._live_ids(),
            lambda link_id: services.verify(link_id, actor="command"),
        )

    def handle_rotate_keys(self, **_) -> None:
        try:
            changed = services.rotate_keys()
        except DecryptionError as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(f"re-encrypted the secrets of {changed} link(s) under the first key")

    def handle_webhooks(self, *, webhooks_action: str, **options) -> None:
        getattr(self, "_webhooks_" + webhooks_action)(**options)

    def _webhooks_add(self, *, url: str, events: str, description: str, **_) -> None:
        wanted = [name.strip() for name in events.split(",") if name.strip()]
        try:
            endpoint, secret = webhooks.create_endpoint(url, wanted, description=description)
        except InvalidEndpoint as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(
            f"endpoint {endpoint.pk}: {endpoint.url} ({', '.join(endpoint.events) or 'all events'})"
        )
        self.stdout.write("its signing secret, shown this once:")
        self.stdout.write(secret)

    def _webhooks_list(self, **_) -> None:
        write = self.stdout.write
        write(f"{'ID':>5}  {'ACTIVE':<8} {'PENDING':>7} {'FAILED':>6}  URL  EVENTS")
        for row in selectors.webhook_endpoints():
            active = "yes" if row.is_active else ("disabled" if row.disabled_at else "no")
            write(
                f"{row.pk:>5}  {active:<8} {row.pending:>7} {row.failed:>6}  {row.url}  "
                f"{','.join(row.events) or 'all'}"
            )

    def _webhooks_test(self, *, endpoint_id: int, **_) -> None:
        if not WebhookEndpoint.objects.filter(pk=endpoint_id).exists():
            raise CommandError(f"no webhook endpoint {endpoint_id}")
        delivery = webhooks.send_test(endpoint_id, actor="command", queue=False)
        self._webhooks_attempt(delivery.pk)

    def _webhooks_redeliver(self, *, delivery_id: int, **_) -> None:
        if not WebhookDelivery.objects.filter(pk=delivery_id).exists():
            raise CommandError(f"no webhook delivery {delivery_id}")
        webhooks.redeliver(delivery_id, queue=False)
        self._webhooks_attempt(delivery_id)

    def _webhooks_attempt(self, delivery_id: int) -> None:
        outcome = webhooks.run(delivery_id, force=True)
        delivery = WebhookDelivery.objects.select_related("event").get(pk=delivery_id)
        last = delivery.attempts.first()
        answer = f", {last.status_code or last.error}" if last is not None else ""
        self.stdout.write(
            f"delivery {delivery.pk} ({delivery.event.event_id}): {outcome.name}{answer}"
        )

    def handle_stats(self, *, prometheus: bool, reset: bool, **_) -> None:
        queue = selectors.refresh_queue(
            _refreshing_providers(), conf.value("REFRESH_WINDOW_SECONDS")
        )
        outcomes = metrics.outcome_counts()
        depths = metrics.queue_depths()
        write = self.stdout.write
        if prometheus:
            write(metrics.exposition(queue, outcomes, depths), ending="")
        else:
            oldest = _iso(queue.oldest_queued_at) or "-"
            write(f"refresh queue: {queue.queued} link(s) queued or retrying (oldest {oldest}),")
            write(f"               {queue.due_unqueued} due and not yet queued")
            write("broker: " + ", ".join(f"{name} {n} waiting" for name, n in depths.items()))
            write(f"{'OPERATION':<10} {'PROVIDER':<12} {'OUTCOME':<18} {'COUNT':>8} {'MEAN MS':>9}")
            for row in outcomes:
                write(
                    f"{row.operation:<10} {row.provider[:12]:<12} {row.outcome[:18]:<18} "
                    f"{row.count:>8} {row.mean_seconds * 1000:>9.1f}"
                )
            if not outcomes:
                write("(no refresh or verification counted yet)")
        if reset:
            metrics.reset()

    @staticmethod
    def _one_selection(**choices) -> None:
        chosen = [name for name, value in choices.items() if value]
        if len(chosen) != 1:
            options = " | ".join("ID…" if name == "ids" else f"--{name}" for name in choices)
            raise CommandError(f"choose exactly one of: {options}")

    @staticmethod
    def _existing(ids: list[int]) -> list[int]:
        known = set(LinkedAccount.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - known)
        if missing:
            raise CommandError(f"no such link: {', '.join(map(str, missing))}")
        return ids

    @staticmethod
    def _live_ids(status: str | None = None) -> list[int]:
        links = LinkedAccount.objects.exclude(status=Status.REVOKED)
        if status:
            links = links.filter(status=status)
        return list(links.order_by("pk").values_list("pk", flat=True))

    def _report(self, link_ids: list[int], operation: Callable[[int], str]) -> None:
        """One line per link; a link's problem is reported, not raised: the exit code is for
        arguments."""
        for link_id in link_ids:
            try:
                outcome = operation(link_id)
            except ProviderUnavailable as outage:
                outcome = f"provider {TaskOutcome.UNAVAILABLE} ({outage}); try again later"
            except DecryptionError as problem:
                outcome = f"not attempted: {problem}"
            except UnknownProvider as missing:
                outcome = f"not attempted: no provider named {missing} is configured"
            self.stdout.write(f"link {link_id}: {outcome}")


# --- api-key ----------------------------------------------------------------------------------


def add_api_key_arguments(sub) -> None:
    """`api-key create --name N --scopes S[,S…] [--providers P[,P…]]` and `api-key revoke ID`."""
    api_key = sub.add_parser("api-key", help="keys for the backend API (/api/v1/)")
    key_actions = api_key.add_subparsers(dest="key_action", required=True)
    create = key_actions.add_parser(
        "create", help="make a key; it is printed once, alone on the last line"
    )
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scopes", required=True, help=f"comma-separated: {', '.join(apikeys.SCOPES)}"
    )
    create.add_argument("--providers", default="", help="comma-separated; default: all")
    revoke = key_actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=int, metavar="ID")


def handle_api_key(command: BaseCommand, *, key_action: str, **options) -> None:
    """Make or revoke a key; a new key is printed once, alone on the last line of stdout."""
    if key_action == "revoke":
        if not ApiKey.objects.filter(pk=options["key_id"]).exists():
            raise CommandError(f"No API key {options['key_id']}.")
        revoked = apikeys.revoke(options["key_id"])
        command.stdout.write(
            f"key {options['key_id']}: {'revoked' if revoked else 'already revoked'}"
        )
        return
    try:
        made = apikeys.create_key(
            options["name"], options["scopes"].split(","), options["providers"].split(",")
        )
    except InvalidKeyRequest as problem:
        raise CommandError(str(problem)) from None
    key = made.api_key
    command.stdout.write(
        f"Created API key {key.pk} {key.name!r} ({key.prefix}…) with scopes "
        f"{', '.join(key.scopes)}; providers: {', '.join(key.providers) or 'all'}."
    )
    command.stdout.write("Store the key now: it is shown this once and kept only as a hash.")
    command.stdout.write(made.key)
