"""Each phase's typed params: validated before any transaction, saved by the returned function."""
from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ValidationError

from campaigns.models import (
    DNS_BATCH_SIZE,
    HTTP_BATCH_SIZE,
    Campaign,
    CampaignType,
    DnsPersona,
    DnsValidationParams,
    DomainGenerationParams,
    HttpPersona,
    HttpValidationParams,
    KeywordSet,
    Proxy,
)
from campaigns.services.errors import InvalidCampaignParams

# Which campaign type each later phase reads from, and the reverse: the phase each type feeds.
SOURCE_TYPE = {
    CampaignType.DNS_VALIDATION: CampaignType.DOMAIN_GENERATION,
    CampaignType.HTTP_KEYWORD_VALIDATION: CampaignType.DNS_VALIDATION,
}
NEXT_TYPE = {source: phase for phase, source in SOURCE_TYPE.items()}

SaveParams = Callable[[Campaign], Any]


def build_params(campaign_type: str, params: dict[str, Any]) -> SaveParams:
    """Validate a type's params before any transaction; return the function that saves them."""
    if not isinstance(params, dict):
        raise InvalidCampaignParams({"params": "must be an object of named parameters"})
    try:
        if campaign_type == CampaignType.DOMAIN_GENERATION:
            model = _generation(params)
        elif campaign_type == CampaignType.DNS_VALIDATION:
            model = _dns(params)
        elif campaign_type == CampaignType.HTTP_KEYWORD_VALIDATION:
            model = _http(params)
        else:
            raise InvalidCampaignParams({"campaign_type": f"unknown campaign type {campaign_type!r}"})
    except ValidationError as exc:
        raise InvalidCampaignParams({key: "; ".join(msgs) for key, msgs in exc.message_dict.items()}) from exc

    def save(campaign: Campaign) -> Any:
        model.campaign = campaign
        model.save(force_insert=True)
        return model

    return save


def check_source(campaign_type: str, source: Campaign | None) -> None:
    """A DNS or HTTP campaign reads the output of the phase before it."""
    wanted = SOURCE_TYPE.get(campaign_type)
    if wanted is None:
        if source is not None:
            raise InvalidCampaignParams({"source_campaign": "a domain generation campaign has no source"})
        return
    if source is None:
        raise InvalidCampaignParams({"source_campaign": f"a {campaign_type} campaign needs a {wanted} source campaign"})
    if source.campaign_type != wanted:
        raise InvalidCampaignParams({"source_campaign": f"must be a {wanted} campaign, not {source.campaign_type}"})


def _generation(params: dict[str, Any]) -> DomainGenerationParams:
    allowed = {"pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size"}
    _refuse_unknown(params, allowed, "domain generation")
    if "count" not in params:
        raise InvalidCampaignParams({"count": "is required"})
    model = DomainGenerationParams(**{"batch_size": 10_000, "prefix_length": 0, "suffix_length": 0, **params})
    model.clean()  # normalises; raises ValidationError naming the field
    return model


def _dns(params: dict[str, Any]) -> DnsValidationParams:
    _refuse_unknown(params, {"personas", "batch_size"}, "DNS validation")
    persona_ids = _ids_by_name(DnsPersona, params.get("personas") or [], "personas")
    if not persona_ids:
        raise InvalidCampaignParams({"personas": "name at least one DNS persona"})
    return DnsValidationParams(persona_ids=persona_ids, batch_size=_whole(params, "batch_size", DNS_BATCH_SIZE, low=1, high=100_000))


def _http(params: dict[str, Any]) -> HttpValidationParams:
    allowed = {"persona", "keyword_sets", "adhoc_keywords", "proxies", "proxy_strategy", "target_ports", "batch_size", "retries", "max_in_flight"}
    _refuse_unknown(params, allowed, "HTTP validation")
    persona = _ids_by_name(HttpPersona, params.get("persona") or [], "persona")
    if len(persona) != 1:
        raise InvalidCampaignParams({"persona": "name exactly one HTTP persona"})
    ports = params.get("target_ports") or []
    if not isinstance(ports, list) or any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535 for p in ports):
        raise InvalidCampaignParams({"target_ports": "must be a list of ports from 1 to 65535"})
    strategy = params.get("proxy_strategy", "round_robin")
    if strategy not in HttpValidationParams.ProxyStrategy.values:
        raise InvalidCampaignParams({"proxy_strategy": f"must be one of {', '.join(HttpValidationParams.ProxyStrategy.values)}"})
    adhoc = params.get("adhoc_keywords") or []
    if not isinstance(adhoc, list) or any(not isinstance(k, str) or not k.strip() for k in adhoc):
        raise InvalidCampaignParams({"adhoc_keywords": "must be a list of non-empty strings"})
    return HttpValidationParams(
        persona_id=persona[0],
        keyword_set_ids=_ids_by_name(KeywordSet, params.get("keyword_sets") or [], "keyword_sets"),
        adhoc_keywords=[k.strip() for k in adhoc],
        proxy_ids=_ids_by_name(Proxy, params.get("proxies") or [], "proxies"),
        proxy_strategy=strategy,
        target_ports=ports,
        batch_size=_whole(params, "batch_size", HTTP_BATCH_SIZE, low=1, high=10_000),
        retries=_whole(params, "retries", 1, low=0, high=10),
        max_in_flight=_whole(params, "max_in_flight", 50, low=1, high=1000),
    )


def _refuse_unknown(params: dict[str, Any], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidCampaignParams({unknown[0]: f"is not a {kind} parameter"})


def _ids_by_name(model, values: Any, field: str) -> list[int]:
    """Accept a list of names or ids; return ids in the given order, or refuse naming the unknown one."""
    if isinstance(values, (str, int)):
        values = [values]
    if not isinstance(values, (list, tuple)):
        raise InvalidCampaignParams({field: "must be a list of names or ids"})
    ids = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InvalidCampaignParams({field: f"{value!r} is not a name or an id"})
        lookup = {"pk": value} if isinstance(value, int) else {"name": value}
        found = model.objects.filter(**lookup).first()
        if found is None:
            raise InvalidCampaignParams({field: f"no {model._meta.verbose_name} {value!r}"})
        _refuse_disabled(found, field)
        ids.append(found.pk)
    return ids


def _refuse_disabled(obj, field: str) -> None:
    """A disabled persona is refused to new campaigns only; those created earlier keep it (docs/DECISIONS.md)."""
    if not isinstance(obj, (DnsPersona, HttpPersona)) or obj.enabled:
        return
    kind = obj._meta.verbose_name
    raise InvalidCampaignParams(
        {field: f"{kind} {obj.name!r} is disabled; enable it under {obj._meta.verbose_name_plural} or pick another"}
    )


def _whole(params: dict[str, Any], key: str, default: int, *, low: int, high: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidCampaignParams({key: f"must be a whole number from {low} to {high}"})
    return value
