from __future__ import annotations

from campaigns.management.cli import TransitionCommand


class Command(TransitionCommand):
    help = "Pause a campaign (only it: the next phase drains what it has); prints its id, new status and version."
    transition = "pause"
