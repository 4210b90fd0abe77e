"""SCIM 2.0 (RFC 7643/7644) without I/O: the published schemas, filters, PATCH on resources.

Only what warroom stores is published: Users (userName, name.givenName/familyName,
displayName, emails, active, externalId, groups read-only) and Groups (displayName, members).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 500


class ScimError(Exception):
    """An RFC 7644 §3.12 error: HTTP status, optional scimType, detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def _attr(
    name: str,
    type_: str = "string",
    *,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    case_exact: bool = False,
    sub: list[dict[str, Any]] | None = None,
    description: str = "",
    canonical: list[str] | None = None,
) -> dict[str, Any]:
    attr: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "mutability": mutability,
        "returned": "default",
    }
    if type_ in ("string", "reference"):
        attr["caseExact"] = case_exact
        attr["uniqueness"] = uniqueness
    if canonical:
        attr["canonicalValues"] = canonical
    if type_ == "reference":
        attr["referenceTypes"] = ["User", "Group"]
    if sub is not None:
        attr["subAttributes"] = sub
    return attr


USER_ATTRIBUTES = [
    _attr("userName", required=True, uniqueness="server", description="Unique sign-in name"),
    _attr(
        "name",
        "complex",
        sub=[_attr("givenName"), _attr("familyName")],
        description="The person's name",
    ),
    _attr("displayName", description="Name shown in warroom"),
    _attr(
        "emails",
        "complex",
        multi=True,
        sub=[
            _attr("value", description="Email address"),
            _attr("type", canonical=["work", "home", "other"]),
            _attr("primary", "boolean"),
        ],
        description="Email addresses; the primary one matches sign-ins and pages",
    ),
    _attr("active", "boolean", description="False disables the account at once"),
    _attr(
        "groups",
        "complex",
        multi=True,
        mutability="readOnly",
        sub=[
            _attr("value", mutability="readOnly"),
            _attr("display", mutability="readOnly"),
        ],
        description="Groups the person belongs to (managed through Groups)",
    ),
]

GROUP_ATTRIBUTES = [
    _attr("displayName", required=True, uniqueness="server", description="Group name"),
    _attr(
        "members",
        "complex",
        multi=True,
        sub=[
            _attr("value", mutability="immutable", description="A User or Group id"),
            _attr("$ref", "reference", mutability="immutable", description="Its URI"),
        ],
        description="The group's users (and nested groups)",
    ),
]


def schema_documents(base: str) -> list[dict[str, Any]]:
    def doc(id_: str, name: str, attrs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA],
            "id": id_,
            "name": name,
            "description": f"{name} account" if name == "User" else name,
            "attributes": attrs,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{id_}"},
        }

    return [doc(USER, "User", USER_ATTRIBUTES), doc(GROUP, "Group", GROUP_ATTRIBUTES)]


def resource_types(base: str) -> list[dict[str, Any]]:
    def doc(name: str, endpoint: str, schema: str) -> dict[str, Any]:
        return {
            "schemas": [RESOURCE_TYPE],
            "id": name,
            "name": name,
            "endpoint": endpoint,
            "description": name,
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
        }

    return [doc("User", "/Users", USER), doc("Group", "/Groups", GROUP)]


def service_provider_config(base: str, docs_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC],
        "documentationUri": docs_url,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A warroom API token with the 'scim' scope",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


# ---- attribute names (case-insensitive in SCIM) ----------------------------------------

_CANONICAL = {
    n.lower(): n
    for n in [
        "userName",
        "name",
        "givenName",
        "familyName",
        "displayName",
        "emails",
        "value",
        "type",
        "primary",
        "active",
        "groups",
        "externalId",
        "id",
        "members",
        "display",
        "schemas",
        "meta",
    ]
}
_URN_PREFIX = re.compile(r"^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):", re.IGNORECASE)


def canonical(name: str) -> str:
    name = _URN_PREFIX.sub("", name)
    return _CANONICAL.get(name.lower(), name)


def canonical_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {canonical(str(k)): canonical_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_keys(v) for v in value]
    return value


def as_bool(value: Any, what: str) -> bool:
    """SCIM booleans; Entra ID sends them as the strings "True"/"False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, f"{what} must be a boolean", "invalidValue")


# ---- filters: `attr eq "value"` ---------------------------------------------------------

_FILTER = re.compile(
    r'^\s*([A-Za-z][\w.:$-]*)\s+(eq)\s+("(?:[^"\\]|\\.)*"|true|false|null)\s*$', re.IGNORECASE
)


@dataclass(frozen=True)
class Filter:
    attribute: str
    value: Any


def parse_filter(text: str | None, allowed: set[str]) -> Filter | None:
    """The one filter form identity providers send: `attribute eq "value"`."""
    if not text:
        return None
    match = _FILTER.match(text)
    if not match:
        raise ScimError(
            400, f"unsupported filter {text!r}: only 'attribute eq \"value\"'", "invalidFilter"
        )
    attribute = ".".join(canonical(p) for p in match.group(1).split("."))
    if attribute not in allowed:
        raise ScimError(
            400,
            f"cannot filter on {attribute}; use one of {', '.join(sorted(allowed))}",
            "invalidFilter",
        )
    raw = match.group(3)
    value: Any
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    elif raw.lower() == "null":
        value = None
    else:
        value = re.sub(r"\\(.)", r"\1", raw[1:-1])
    return Filter(attribute, value)


# ---- PATCH (RFC 7644 §3.5.2) -------------------------------------------------------------

_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$-]*)"
    r'(?:\[\s*(?P<fattr>[A-Za-z$][\w$-]*)\s+eq\s+(?P<fval>"(?:[^"\\]|\\.)*"|true|false)\s*\])?'
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$",
    re.IGNORECASE,
)


def _value_of(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _matches(item: Any, fattr: str, fval: Any) -> bool:
    if not isinstance(item, dict):
        return False
    have = item.get(fattr)
    if isinstance(have, str) and isinstance(fval, str):
        return have.lower() == fval.lower() if fattr != "value" else have == fval
    return bool(have == fval)


def apply_patch(
    resource: dict[str, Any], operations: Any, multi_valued: set[str], read_only: set[str]
) -> dict[str, Any]:
    """Apply PatchOp operations to a resource's SCIM representation; return the new one."""
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "a PATCH needs a non-empty Operations list", "invalidSyntax")
    result = copy.deepcopy(resource)
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "each operation is an object", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "remove", "replace"):
            raise ScimError(400, f"unknown op {operation.get('op')!r}", "invalidSyntax")
        path = operation.get("path")
        value = canonical_keys(operation.get("value"))
        if not path:
            if op == "remove":
                raise ScimError(400, "remove needs a path", "noTarget")
            if not isinstance(value, dict):
                raise ScimError(400, f"{op} without a path needs an object value", "invalidValue")
            for key, item in value.items():
                _apply(result, str(key), op, item, multi_valued, read_only)
            continue
        _apply(result, str(path), op, value, multi_valued, read_only)
    return result


def _apply(
    resource: dict[str, Any],
    path: str,
    op: str,
    value: Any,
    multi_valued: set[str],
    read_only: set[str],
) -> None:
    path = _URN_PREFIX.sub("", path.strip())
    match = _PATH.match(path)
    if not match:
        raise ScimError(400, f"unsupported path {path!r}", "invalidPath")
    attr = canonical(match.group("attr"))
    sub = canonical(match.group("sub")) if match.group("sub") else None
    if attr in read_only or attr in ("id", "meta", "schemas"):
        raise ScimError(400, f"{attr} is read-only", "mutability")
    if match.group("fattr"):
        if attr not in multi_valued:
            raise ScimError(400, f"{attr} is not multi-valued", "invalidPath")
        _apply_filtered(
            resource, attr, canonical(match.group("fattr")), _value_of(match.group("fval")),
            sub, op, value,
        )  # fmt: skip
        return
    if sub is not None:
        if attr in multi_valued:
            # e.g. emails.value: applies to every item (RFC 7644 §3.5.2.3).
            for item in resource.get(attr) or []:
                if isinstance(item, dict):
                    _set(item, sub, op, value)
            return
        parent = resource.get(attr)
        if not isinstance(parent, dict):
            if op == "remove":
                return
            parent = {}
            resource[attr] = parent
        _set(parent, sub, op, value)
        return
    if attr in multi_valued:
        items = list(resource.get(attr) or [])
        values = value if isinstance(value, list) else ([] if value is None else [value])
        if op == "add":
            for item in values:
                if item not in items:
                    items.append(item)
            resource[attr] = items
        elif op == "replace":
            resource[attr] = values
        elif values:  # remove with a value: those items only (Okta, Entra for members)
            keys = {v.get("value") for v in values if isinstance(v, dict)}
            resource[attr] = [
                i for i in items if not (isinstance(i, dict) and i.get("value") in keys)
            ]
        else:
            resource.pop(attr, None)
        return
    if op == "remove":
        resource.pop(attr, None)
    elif op == "add" and isinstance(value, dict) and isinstance(resource.get(attr), dict):
        resource[attr] = {**resource[attr], **value}
    else:
        resource[attr] = value


def _set(target: dict[str, Any], key: str, op: str, value: Any) -> None:
    if op == "remove":
        target.pop(key, None)
    else:
        target[key] = value


def _apply_filtered(
    resource: dict[str, Any],
    attr: str,
    fattr: str,
    fval: Any,
    sub: str | None,
    op: str,
    value: Any,
) -> None:
    items = list(resource.get(attr) or [])
    hits = [i for i in items if _matches(i, fattr, fval)]
    if op == "remove":
        if sub is None:
            items = [i for i in items if not _matches(i, fattr, fval)]
        else:
            for item in hits:
                item.pop(sub, None)
        resource[attr] = items
        return
    if not hits:
        if op == "replace" and sub is None:
            raise ScimError(400, f"no {attr} item matches {fattr} eq {fval!r}", "noTarget")
        # Entra ID: replace emails[type eq "work"].value when there is no work email adds one.
        new = {fattr: fval}
        items.append(new)
        hits = [new]
    for item in hits:
        if sub is not None:
            item[sub] = value
        elif isinstance(value, dict):
            item.update(value)
    resource[attr] = items
