from __future__ import annotations

from campaigns.management.cli import TransitionCommand


class Command(TransitionCommand):
    help = (
        "Start a campaign and the pending later phases of its pipeline; prints its id, new status and version, "
        "then those of each later phase it started."
    )
    transition = "start"
