"""Errors the services raise for callers to show: each message is written for a person."""
from __future__ import annotations


class CampaignError(Exception):
    """A campaign operation was refused."""


class CampaignNotFound(CampaignError):
    def __init__(self, campaign_id: object) -> None:
        super().__init__(f"Campaign {campaign_id} does not exist.")


class CampaignAccessDenied(CampaignError):
    def __init__(self, campaign_id: object) -> None:
        super().__init__(f"You do not have access to campaign {campaign_id}.")
        self.campaign_id = campaign_id


class StaleCampaign(CampaignError):
    def __init__(self, campaign_id: object, *, expected: int, actual: int) -> None:
        super().__init__(
            f"Campaign {campaign_id} was changed by someone else "
            f"(you saw version {expected}, it is now version {actual}); reload and try again."
        )
        self.expected = expected
        self.actual = actual


class TransitionNotAllowed(CampaignError):
    def __init__(self, *, transition: str, status: str) -> None:
        super().__init__(f"Cannot {transition} a campaign that is {status}.")
        self.transition = transition
        self.status = status


class InvalidCampaignParams(CampaignError):
    """Parameters were refused; `errors` maps each bad field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(f"{field}: {message}" if field != "__all__" else message)
        self.errors = errors
