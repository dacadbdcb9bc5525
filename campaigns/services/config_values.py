"""Checks of configuration values, each error naming where it is (e.g. dns_personas[1].resolvers[0])."""
from __future__ import annotations

import math
from typing import Any, Callable
from urllib.parse import quote

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from campaigns.services.errors import CampaignError


class ConfigInvalid(CampaignError):
    """The configuration document was refused; `path` says where (e.g. dns_personas[1].resolvers[0])."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def check_text(document: dict[str, Any]) -> None:
    """No string, key or value, holds U+0000: PostgreSQL text cannot store it (checked without recursion)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ConfigInvalid(path, "must not contain the NUL character (\\u0000)")
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if "\x00" in key:
                    raise ConfigInvalid(path or "document", "a key must not contain the NUL character (\\u0000)")
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def typed_value(model_field: models.Field, value: Any, path: str) -> Any:
    """The JSON value checked against the model field's type (full_clean checks ranges and choices)."""
    if value is None:
        if model_field.null:
            return None
        raise ConfigInvalid(path, "must not be null")
    if isinstance(model_field, ArrayField):
        if not isinstance(value, list):
            raise ConfigInvalid(path, "must be a list")
        return [typed_value(model_field.base_field, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(model_field, models.BooleanField):
        if not isinstance(value, bool):
            raise ConfigInvalid(path, "must be true or false")
    elif isinstance(model_field, models.IntegerField):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigInvalid(path, "must be a whole number")
    elif isinstance(model_field, models.FloatField):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigInvalid(path, "must be a number")
        return float(value)
    elif isinstance(model_field, (models.CharField, models.TextField)):
        if not isinstance(value, str):
            raise ConfigInvalid(path, "must be a string")
    return value


def full_clean(obj: models.Model, path: str, *, exclude: list[str] | None = None, secret: str = "") -> None:
    """The model's full_clean(), stage by stage, so the error shown is the first cause.

    full_clean() gathers every stage's errors: a bad `kind` would also fail clean()'s check of the
    pattern, and the field checks are what the person needs to see first.
    """
    stages = (
        lambda: obj.clean_fields(exclude=exclude),
        obj.clean,
        lambda: obj.validate_unique(exclude=exclude),
        lambda: obj.validate_constraints(exclude=exclude),
    )
    for stage in stages:
        try:
            stage()
        except ValidationError as exc:
            raise _first_error(obj, path, exc, secret) from None


def _first_error(obj: models.Model, path: str, exc: ValidationError, secret: str) -> ConfigInvalid:
    if not hasattr(exc, "error_dict"):
        key, error = NON_FIELD_ERRORS, exc
    else:
        order = [f.name for f in obj._meta.concrete_fields]
        key = min(exc.error_dict, key=lambda k: order.index(k) if k in order else len(order))
        error = exc.error_dict[key][0]
    message = " ".join(error.messages)
    params = getattr(error, "params", None) or {}
    where = path if key == NON_FIELD_ERRORS else f"{path}.{key}"
    if getattr(error, "code", "") == "item_invalid" and "nth" in params:
        # ArrayField's "Item 2 in the array did not validate: …": the path says which item.
        where = f"{where}[{params['nth'] - 1}]"
        message = message.split(": ", 1)[-1]
    if secret:
        message = message.replace(quote(secret, safe=""), "***").replace(secret, "***")
    return ConfigInvalid(where, message)


def check_value(check: Callable[[Any], None] | None, value: Any, path: str) -> None:
    if check is None:
        return
    for where, item in [(f"{path}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list) else [(path, value)]:
        try:
            check(item)
        except ValueError as exc:
            raise ConfigInvalid(where, str(exc)) from None
