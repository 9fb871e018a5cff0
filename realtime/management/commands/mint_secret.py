"""``manage.py mint_secret``: mint an ephemeral ``ek_`` secret from a shell, for debugging.

Prints the secret and its expiry (or JSON with ``--json``). On failure it prints OpenAI's
message and our hint to stderr, exits 1, and leaves the same diagnostics row a web request
would, with source ``cli``. With ``--proxy`` it prints a token for this server's WebSocket
proxy instead (no OpenAI round trip), bound to ``--user`` if given.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from realtime import agents, pricing, retirements, tokens, upstream
from realtime.answers import answer_upstream_failure
from realtime.conf import SECRET_TTL_RANGE, SETTING_NAMES, get_settings
from realtime.diagnostics import Exchange, record_sync
from realtime.errors import problem
from realtime.keys import fingerprint
from realtime.models import ExchangeKind, Outcome, Source, Transport


class Command(BaseCommand):
    help = "Mint an ephemeral realtime client secret (ek_…) with the server's OpenAI key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--agent", help="the agent (its slug) whose configuration the session has"
        )
        parser.add_argument(
            "--model", help="session model (default: the agent's or REALTIME_MODEL)"
        )
        parser.add_argument("--voice", help="output voice (default: REALTIME_VOICE)")
        parser.add_argument(
            "--instructions", help="session instructions (default: REALTIME_INSTRUCTIONS)"
        )
        parser.add_argument(
            "--ttl",
            type=int,
            help=f"seconds until the secret expires, {SECRET_TTL_RANGE[0]}..{SECRET_TTL_RANGE[1]}"
            " (default: REALTIME_SECRET_TTL)",
        )
        parser.add_argument("--json", action="store_true", help="print the whole answer as JSON")
        parser.add_argument(
            "--proxy",
            action="store_true",
            help="print a token for this server's WebSocket proxy (/v1/realtime) instead",
        )
        parser.add_argument(
            "--user", help="with --proxy: the username the token acts for (default: anonymous)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        conf = get_settings()
        ttl = options["ttl"] or conf.secret_ttl
        low, high = SECRET_TTL_RANGE
        if not low <= ttl <= high:
            raise CommandError(f"--ttl must be {low}..{high} seconds, not {ttl}")
        if options["user"] and not options["proxy"]:
            raise CommandError("--user only applies to --proxy tokens")
        if options["model"] and pricing.is_live_model(options["model"]) and not options["proxy"]:
            raise CommandError(
                f"{options['model']} is a GPT-Live model: GPT-Live has no client secrets. Mint "
                "a --proxy token and use it with /v1/live/sessions on this server."
            )
        try:
            profile = agents.resolve_sync(options["agent"])
        except agents.UnknownAgent as unknown:
            raise CommandError(str(unknown), returncode=1) from None
        session = profile.session_config()
        session["model"] = options["model"] or profile.model
        if options["instructions"]:
            session["instructions"] = options["instructions"]
        if options["voice"]:
            session["audio"]["output"]["voice"] = options["voice"]
        # The session's models that OpenAI retires. When the system checks ran (from a shell)
        # their realtime.W002 has named the settings' models already; not a --model one.
        named = [("--model", options["model"])] if options["model"] else []
        if options.get("skip_checks", True):
            if not options["model"]:
                named.append((SETTING_NAMES["model"], profile.model))
            named.append((SETTING_NAMES["transcription_model"], conf.transcription_model))
        for where, model in named:
            if notice := retirements.notice_for(model):
                self.stderr.write(f"warning: {where}: {notice}", style_func=self.style.WARNING)

        exchange = Exchange(
            kind=ExchangeKind.CLIENT_SECRET,
            source=Source.CLI,
            model=session["model"],
            agent_id=profile.agent_id,
            agent_revision_id=profile.revision_id,
        )
        started = time.perf_counter()
        asked_at = int(time.time())
        if not conf.openai_api_key:
            exchange.outcome = Outcome.REJECTED
            exchange.error_code = "server_not_configured"
            exchange.total_ms = (time.perf_counter() - started) * 1000
            record_sync(exchange)
            missing = problem("server_not_configured")
            raise CommandError(f"{missing.message}\nhint: {missing.hint}", returncode=1)

        if options["proxy"]:
            self.mint_proxy_token(
                exchange, ttl, options["user"], started, options["agent"], as_json=options["json"]
            )
            return

        if conf.emulator:
            self.stderr.write(
                "note: REALTIME_EMULATOR is on: this command's own offline emulator mints the "
                "secret, which works nowhere else; set OPENAI_API_KEY to mint a real one."
            )
        try:
            secret = asyncio.run(_mint(session, ttl))
        except upstream.UpstreamError as error:
            exchange.total_ms = exchange.upstream_ms = (time.perf_counter() - started) * 1000
            answer = answer_upstream_failure(error, ephemeral=False)
            exchange.note_failure(error)
            record_sync(exchange)
            raise CommandError(f"{answer.summary}\nhint: {answer.hint}", returncode=1) from None

        exchange.total_ms = exchange.upstream_ms = (time.perf_counter() - started) * 1000
        exchange.upstream_status = secret.status
        exchange.response_bytes = secret.response_bytes
        exchange.secret_fingerprint = fingerprint(secret.value)
        exchange.model = secret.session.get("model") or session["model"]
        record_sync(exchange)

        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "value": secret.value,
                        "expires_at": secret.expires_at,
                        "model": exchange.model,
                        "session": secret.session,
                    },
                    indent=2,
                )
            )
            return
        expires = datetime.fromtimestamp(secret.expires_at, UTC)
        # From when it was asked for: OpenAI's clock may have passed a second meanwhile.
        remaining = min(ttl, max(0, secret.expires_at - asked_at))
        self.stdout.write(secret.value)
        self.stdout.write(
            f"expires {expires:%Y-%m-%d %H:%M:%S} UTC (in {_duration(remaining)}), "
            f"model {exchange.model}"
        )

    def mint_proxy_token(
        self,
        exchange: Exchange,
        ttl: int,
        username: str | None,
        started: float,
        agent: str | None,
        *,
        as_json: bool,
    ) -> None:
        user_id = None
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None or not user.is_active:
                raise CommandError(f"no active user named {username!r}", returncode=1)
            user_id = user.pk
        token = tokens.issue(user_id, ttl)
        exchange.user_id = user_id
        exchange.transport = Transport.WEBSOCKET
        exchange.secret_fingerprint = fingerprint(token.value)
        exchange.total_ms = (time.perf_counter() - started) * 1000
        record_sync(exchange)
        if as_json:
            answer = {"value": token.value, "expires_at": token.expires_at, "model": exchange.model}
            self.stdout.write(json.dumps({**answer, "transport": "websocket"}, indent=2))
            return
        self.stdout.write(token.value)
        self.stdout.write(
            f"expires {datetime.fromtimestamp(token.expires_at, UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"(in {_duration(ttl)}), proxy token for "
            f"{username or 'an anonymous user'}; connect to ws://<this server>/v1/realtime"
            + (f"?agent={agent}" if agent else "")
        )


async def _mint(session: dict[str, Any], ttl: int) -> upstream.ClientSecret:
    try:
        return await upstream.mint_client_secret(session, ttl)
    finally:
        await upstream.aclose()


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    if minutes and seconds:
        return f"{minutes} min {seconds} s"
    return f"{minutes} min" if minutes else f"{seconds} s"
