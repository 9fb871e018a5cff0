"""``manage.py prune_realtime``: delete the diagnostics past ``REALTIME_RETENTION_DAYS``.

Run it daily (cron, a systemd timer). ``--user`` deletes every row of one user, whatever its
age: how an operator answers a deletion request. ``--dry-run`` only counts.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from realtime.conf import get_settings
from realtime.retention import cutoff, prune


class Command(BaseCommand):
    help = (
        "Delete realtime sessions (with their transcripts and responses) and exchanges older "
        "than REALTIME_RETENTION_DAYS, or all of one user's."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
        parser.add_argument(
            "--days", type=int, help="keep this many days instead of REALTIME_RETENTION_DAYS"
        )
        parser.add_argument(
            "--user", help="delete every row of this user (username), whatever its age"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else get_settings().retention_days
        if days < 0:
            raise CommandError("--days must be 0 (keep forever) or more")
        user_id = None
        if options["user"] is not None:
            user_model = get_user_model()
            try:
                user_id = user_model._default_manager.get_by_natural_key(options["user"]).pk
            except user_model.DoesNotExist:
                raise CommandError(f"no user named {options['user']!r}") from None
        elif days == 0:
            self.stdout.write("Retention is 0 days (keep forever): nothing to prune.")
            return
        before = cutoff(days) if user_id is None else None
        pruned = prune(before=before, user_id=user_id, dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        scope = f"of user {options['user']}" if user_id is not None else f"older than {days} days"
        self.stdout.write(
            f"{verb} {pruned.sessions} session(s) with {pruned.entries} conversation "
            f"entr{'y' if pruned.entries == 1 else 'ies'} and {pruned.responses} response(s), "
            f"and {pruned.exchanges} exchange(s), {scope}."
        )
