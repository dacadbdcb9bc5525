"""Shared configuration as one JSON document: export it, import it (upsert by name, all or nothing).

Version 1 of the document (docs/CONFIGURATION.md has a complete example):

    {"version": 1,
     "dns_personas":  [{"name", "enabled", "resolvers", "resolver_weights", "strategy", ...}],
     "http_personas": [{"name", "enabled", "user_agent", "headers", ...}],
     "proxies":       [{"name", "scheme", "host", "port", "username", "enabled", ("password")}],
     "keyword_sets":  [{"name", "description", "rules": [{"pattern", "kind", "case_sensitive", "context_chars"}]}]}

Objects are keyed by name and listed by name; keys are sorted, so exporting
the same configuration twice gives the same bytes. An object carries every
configuration field of its model; a field left out of an imported object
takes the model's default, except a proxy's password, which is kept (so a
document exported without secrets can be imported back without losing them).
A proxy's health and usage counters are the workers' state, not
configuration: they are neither exported nor imported. Objects the document
does not name are left alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from django.db import IntegrityError, models

from campaigns.dns import config as dns_config
from campaigns.models import AuditLog, DnsPersona, HttpPersona, KeywordRule, KeywordSet, Proxy
from campaigns.services.access import Actor, audit_record
from campaigns.services.config_values import ConfigInvalid, check_text, check_value, full_clean, typed_value
from campaigns.services.errors import CampaignError
from txmetrics.decorators import safe_transaction, sqlstate_of

VERSION = 1
# A proxy's worker-owned state: workers mark a proxy unhealthy after repeated failures.
PROXY_RUNTIME_FIELDS = ("healthy", "consecutive_failures", "use_count", "last_error")
RULE_FIELDS = ("pattern", "kind", "case_sensitive", "context_chars")
UNIQUE_VIOLATION = "23505"
IMPORT_ATTEMPTS = 3


class ConfigAccessDenied(CampaignError):
    """Only staff (or the system, on the command line) may do this to the shared configuration."""


class ConfigConflict(CampaignError):
    def __init__(self) -> None:
        super().__init__("The configuration was changed by someone else during the import; nothing was written. Try again.")


def _config_fields(model: type[models.Model], *, leave_out: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in model._meta.concrete_fields if not f.primary_key and f.name not in leave_out)


@dataclass(frozen=True)
class Section:
    key: str
    model: type[models.Model]
    fields: tuple[str, ...]  # the model's fields, in the document; "name" is one of them
    # field -> check of its value (of each item, for a list): the error then names the field or
    # the item, where the model's clean() would only name the object or the whole list.
    checks: dict[str, Callable[[Any], None]] = field(default_factory=dict)


def _record_type(value: str) -> None:
    if value not in dns_config.RECORD_TYPES:
        raise ValueError(f"must be one of {', '.join(dns_config.RECORD_TYPES)}; got {value!r}")


def _status_code(value: int) -> None:
    if not 100 <= value <= 599:
        raise ValueError(f"must be an HTTP status code from 100 to 599; got {value}")


def _port(value: int) -> None:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a port from 1 to 65535; got {value}")


def _positive(value: float | int | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"must be greater than 0; got {value}")


SECTIONS: tuple[Section, ...] = (
    Section(
        "dns_personas",
        DnsPersona,
        _config_fields(DnsPersona),
        {
            "resolvers": dns_config.parse_resolver,
            "record_types": _record_type,
            "timeout_s": _positive,
            "max_in_flight": _positive,
            "rate_limit_qps": _positive,
        },
    ),
    Section(
        "http_personas",
        HttpPersona,
        _config_fields(HttpPersona),
        {"allowed_status_codes": _status_code, "timeout_s": _positive, "max_body_bytes": _positive},
    ),
    Section("proxies", Proxy, _config_fields(Proxy, leave_out=PROXY_RUNTIME_FIELDS), {"port": _port}),
    Section("keyword_sets", KeywordSet, _config_fields(KeywordSet)),
)
TOP_KEYS = ("version", *(s.key for s in SECTIONS))


# --- export ---


def config_document(*, include_secrets: bool = False) -> dict[str, Any]:
    """The whole shared configuration as a version 1 document (proxy passwords only when asked)."""
    document: dict[str, Any] = {"version": VERSION}
    for section in SECTIONS:
        objects = section.model.objects.all()
        if section.model is KeywordSet:
            # A set and its rules are two queries: FOR SHARE waits out an import rewriting them
            # (it holds the set FOR UPDATE), so a set never shows with another version's rules.
            # By name, the order an import locks them in, so the two cannot deadlock.
            table = KeywordSet._meta.db_table
            objects = KeywordSet.objects.raw(f"SELECT * FROM {table} ORDER BY name FOR SHARE").prefetch_related(
                models.Prefetch("rules", queryset=KeywordRule.objects.order_by("id"))
            )
        items = []
        # Sorted here, by code point, so the order does not depend on the database's collation.
        for obj in sorted(objects, key=lambda o: o.name):
            item = {name: getattr(obj, name) for name in section.fields}
            if section.model is Proxy and not include_secrets:
                del item["password"]
            if section.model is KeywordSet:
                item["rules"] = [{name: getattr(rule, name) for name in RULE_FIELDS} for rule in obj.rules.all()]
            items.append(item)
        document[section.key] = items
    return document


def config_document_text(document: dict[str, Any]) -> str:
    """The document as text: sorted keys, two-space indent, one final newline (byte-stable)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def config_export(*, actor: Actor, actor_label: str = "", include_secrets: bool = False, destination: str = "") -> str:
    """The configuration document's text, with an audit row; secrets need staff (or the system)."""
    _ensure_allowed(
        actor, actor_label=actor_label, action="config.export", staff_only=include_secrets,
        refusal="Only staff can export proxy passwords.", details={"include_secrets": include_secrets},
    )
    return _export(actor=actor, actor_label=actor_label, include_secrets=include_secrets, destination=destination)


@safe_transaction(operation="config.export")
def _export(*, actor: Actor, actor_label: str, include_secrets: bool, destination: str) -> str:
    document = config_document(include_secrets=include_secrets)
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="config.export",
        entity_type="config",
        entity_id=f"v{VERSION}",
        details={
            "include_secrets": include_secrets,
            "output": destination,
            "counts": {section.key: len(document[section.key]) for section in SECTIONS},
        },
    )
    return config_document_text(document)


# --- import ---


@dataclass
class ImportSummary:
    created: dict[str, list[str]] = field(default_factory=lambda: {s.key: [] for s in SECTIONS})
    updated: dict[str, list[str]] = field(default_factory=lambda: {s.key: [] for s in SECTIONS})
    unchanged: dict[str, list[str]] = field(default_factory=lambda: {s.key: [] for s in SECTIONS})

    def as_dict(self) -> dict[str, Any]:
        """Counts, in total and per kind of object."""
        return {
            "created": sum(map(len, self.created.values())),
            "updated": sum(map(len, self.updated.values())),
            "unchanged": sum(map(len, self.unchanged.values())),
            "by_kind": {
                s.key: {outcome: len(getattr(self, outcome)[s.key]) for outcome in ("created", "updated", "unchanged")}
                for s in SECTIONS
            },
        }


def config_import(*, actor: Actor, document: Any, actor_label: str = "", source: str = "") -> ImportSummary:
    """Upsert every object of the document by name in one transaction, or refuse it whole (ConfigInvalid)."""
    _ensure_allowed(
        actor, actor_label=actor_label, action="config.import", staff_only=True,
        refusal="Only staff can import shared configuration.", details={"source": source},
    )
    _check_outline(document)
    attempt = 1
    while True:
        try:
            return _import(actor=actor, actor_label=actor_label, document=document, source=source)
        except IntegrityError as exc:
            # Someone created one of our new names after we looked (nothing locks a row that
            # does not exist yet). Ours rolled back whole; looking again finds it and updates it.
            if sqlstate_of(exc) != UNIQUE_VIOLATION:
                raise
            if attempt == IMPORT_ATTEMPTS:
                raise ConfigConflict() from exc
            attempt += 1


@safe_transaction(operation="config.import")
def _import(*, actor: Actor, actor_label: str, document: dict[str, Any], source: str) -> ImportSummary:
    plans = []
    for section in SECTIONS:
        items = document.get(section.key, [])
        existing = _lock_existing(section, items)
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            plans.append(_plan(section, index, item, existing, seen))
    # Everything is valid: only now is anything written.
    summary = ImportSummary()
    for plan in plans:
        plan.write()
        getattr(summary, plan.outcome)[plan.section.key].append(plan.obj.name)
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="config.import",
        entity_type="config",
        entity_id=f"v{VERSION}",
        details={
            "source": source,
            "created": {k: v for k, v in summary.created.items() if v},
            "updated": {k: v for k, v in summary.updated.items() if v},
            "unchanged": sum(map(len, summary.unchanged.values())),
        },
    )
    return summary


def _ensure_allowed(actor: Actor, *, actor_label: str, action: str, staff_only: bool, refusal: str, details: dict) -> None:
    """None is the system (the command line); a user must be active, and staff where asked."""
    if actor is None:
        return
    active = getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False)
    if active and (actor.is_staff or not staff_only):
        return
    # Outside any transaction: nothing rolls the refusal's record back.
    audit_record(
        actor=actor, actor_label=actor_label, action=action, entity_type="config", entity_id=f"v{VERSION}",
        details={**details, "reason": refusal}, decision=AuditLog.Decision.DENIED,
    )
    raise ConfigAccessDenied(refusal)


def _check_outline(document: Any) -> None:
    """The document's top level: an object of version 1 and lists of objects with string names."""
    if not isinstance(document, dict):
        raise ConfigInvalid("", f"the document must be a JSON object with the keys {', '.join(TOP_KEYS)}")
    for key in document:
        if key not in TOP_KEYS:
            raise ConfigInvalid(key, f"unknown key; expected {', '.join(TOP_KEYS)}")
    if "version" not in document:
        raise ConfigInvalid("version", f"is required (this program reads version {VERSION})")
    version = document["version"]
    if isinstance(version, bool) or version != VERSION:
        raise ConfigInvalid("version", f"must be {VERSION}; got {json.dumps(version)}")
    check_text(document)
    for section in SECTIONS:
        items = document.get(section.key, [])
        if not isinstance(items, list):
            raise ConfigInvalid(section.key, "must be a list of objects")
        for index, item in enumerate(items):
            path = f"{section.key}[{index}]"
            if not isinstance(item, dict):
                raise ConfigInvalid(path, "must be an object")
            if "name" not in item:
                raise ConfigInvalid(f"{path}.name", "is required")
            if not isinstance(item["name"], str):
                raise ConfigInvalid(f"{path}.name", "must be a string")


def _lock_existing(section: Section, items: list[dict[str, Any]]) -> dict[str, models.Model]:
    # Lock order: sections in SECTIONS order, rows by name; a concurrent import waits, then sees ours.
    names = sorted({item["name"] for item in items})
    rows = section.model.objects.select_for_update().filter(name__in=names).order_by("name")
    return {row.name: row for row in rows}


@dataclass
class _Plan:
    section: Section
    obj: models.Model
    outcome: str  # "created" | "updated" | "unchanged"
    rules: list[KeywordRule] | None = None  # a keyword set's new rules, when they changed

    def write(self) -> None:
        if self.outcome == "created":
            self.obj.save(force_insert=True)
        elif self.outcome == "updated":
            self.obj.save()
        if self.rules is not None:
            KeywordRule.objects.filter(keyword_set=self.obj).delete()
            for rule in self.rules:
                rule.keyword_set = self.obj
            KeywordRule.objects.bulk_create(self.rules)  # ids, hence the rules' order, follow the list


def _plan(section: Section, index: int, item: dict[str, Any], existing: dict[str, models.Model], seen: dict[str, int]) -> _Plan:
    """Check one object fully (types, items, the model's full_clean) and decide what writing it means."""
    path = f"{section.key}[{index}]"
    name = item["name"]
    if name in seen:
        raise ConfigInvalid(f"{path}.name", f"{name!r} is already defined by {section.key}[{seen[name]}]")
    seen[name] = index
    allowed = set(section.fields) | ({"rules"} if section.model is KeywordSet else set())
    for key in item:
        if key not in allowed:
            raise ConfigInvalid(f"{path}.{key}", f"unknown field; expected {', '.join(sorted(allowed))}")

    values = {}
    for field_name in section.fields:
        model_field = section.model._meta.get_field(field_name)
        if field_name in item:
            values[field_name] = typed_value(model_field, item[field_name], f"{path}.{field_name}")
            check_value(section.checks.get(field_name), values[field_name], f"{path}.{field_name}")
        elif not (section.model is Proxy and field_name == "password"):
            values[field_name] = model_field.get_default()
    if section.model is HttpPersona and isinstance(values.get("headers"), dict):
        for header, value in values["headers"].items():
            if not isinstance(value, str):
                raise ConfigInvalid(f"{path}.headers[{json.dumps(header)}]", "must be a string")

    obj = existing.get(name)
    before = _snapshot(section, obj) if obj is not None else None
    if obj is None:
        obj = section.model(**values)
    else:
        for field_name, value in values.items():
            setattr(obj, field_name, value)
    full_clean(obj, path, secret=getattr(obj, "password", ""))

    rules = None
    if section.model is KeywordSet:
        rules = _rules(obj, item.get("rules", []), f"{path}.rules")
        old_rules = [tuple(getattr(r, f) for f in RULE_FIELDS) for r in obj.rules.order_by("id")] if before is not None else None
        if old_rules == [tuple(getattr(r, f) for f in RULE_FIELDS) for r in rules]:
            rules = None
    if before is None:
        outcome = "created"
    elif before != _snapshot(section, obj) or rules is not None:
        outcome = "updated"
    else:
        outcome = "unchanged"
    return _Plan(section, obj, outcome, rules)


def _rules(keyword_set: KeywordSet, items: Any, path: str) -> list[KeywordRule]:
    if not isinstance(items, list):
        raise ConfigInvalid(path, "must be a list of objects")
    rules = []
    for index, item in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise ConfigInvalid(here, "must be an object")
        for key in item:
            if key not in RULE_FIELDS:
                raise ConfigInvalid(f"{here}.{key}", f"unknown field; expected {', '.join(sorted(RULE_FIELDS))}")
        if "pattern" not in item:
            raise ConfigInvalid(f"{here}.pattern", "is required")
        values = {}
        for field_name in RULE_FIELDS:
            model_field = KeywordRule._meta.get_field(field_name)
            values[field_name] = (
                typed_value(model_field, item[field_name], f"{here}.{field_name}") if field_name in item else model_field.get_default()
            )
        rule = KeywordRule(**values)
        rule.keyword_set = keyword_set  # for clean()'s spec; saved sets get their id when written
        full_clean(rule, here, exclude=["keyword_set"])
        rules.append(rule)
    return rules


def _snapshot(section: Section, obj: models.Model) -> tuple:
    return tuple(getattr(obj, name) for name in section.fields)


