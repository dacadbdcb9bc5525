from __future__ import annotations

from campaigns.management.cli import TransitionCommand


class Command(TransitionCommand):
    help = "Cancel a campaign; prints its id, new status and version."
    transition = "cancel"
