"""``manage.py sweep_sessions``: end the proxied sessions that stopped processes left open.

A server killed without draining (SIGKILL, the OOM killer) cannot end its sessions' rows;
every server start sweeps them, and so does this command (from cron, or after a crash).
Only processes of this host are judged, and only those certainly gone: see
``realtime.sweep``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from realtime.sweep import sweep


class Command(BaseCommand):
    help = "End the proxied sessions that stopped server processes of this host left open."

    def handle(self, *args: object, **options: object) -> None:
        swept = sweep()
        self.stdout.write(
            f"Ended {swept.ended} session(s) that stopped processes left open; "
            f"{swept.left} open session(s) belong to running processes or other hosts."
        )
