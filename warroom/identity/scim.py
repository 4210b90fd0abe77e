"""SCIM 2.0 provisioning at `/scim/v2`: Users and Groups, for a token with the `scim` scope.

A User is a web user (its `identity_accounts` row holds the SCIM view) and, with the same
name, an on-call person; `active: false` or DELETE disables them at once (sessions deleted,
their tokens revoked, never paged, their shifts shown as gaps). A Group's display name maps
to a role (WARROOM_ADMIN_GROUPS ...) and, unless WARROOM_SCIM_GROUPS_AS_TEAMS is false, to an
on-call team with the same members.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import bearer_token
from warroom.core import audit
from warroom.core.auth import Principal, authenticate, record_use
from warroom.core.errors import NotFound, WarroomError
from warroom.core.runtime import Runtime
from warroom.identity import accounts
from warroom.identity import scim_model as m
from warroom.identity import tables as it
from warroom.identity.scim_model import ScimError
from warroom.web.tables import web_users

log = logging.getLogger("warroom.identity.scim")
router = APIRouter(prefix="/scim/v2", include_in_schema=False)
MEDIA = "application/scim+json"
_USER_MULTI = {"emails", "groups"}
_GROUP_MULTI = {"members"}


def _etag(version: int) -> str:
    return f'W/"{version}"'


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class ScimService:
    """SCIM use cases; each write is one transaction, then the on-call side follows."""

    def __init__(self, runtime: Runtime, base: str) -> None:
        self.runtime = runtime
        self.base = base

    @property
    def settings(self) -> Any:
        return self.runtime.settings

    def _oncall(self) -> Any:
        return getattr(self.runtime, "oncall", None)

    # ---- reading ---------------------------------------------------------------------

    def _user_doc(self, conn: Connection, row: Any) -> dict[str, Any]:
        g, gm = it.scim_groups, it.scim_group_members
        groups = conn.execute(
            select(g.c.scim_id, g.c.display_name)
            .join(gm, gm.c.group_id == g.c.id)
            .where(gm.c.user_id == row.user_id)
            .order_by(g.c.display_name)
        ).all()
        doc: dict[str, Any] = {"schemas": [m.USER], "id": row.scim_id, "userName": row.user_name}
        if row.external_id:
            doc["externalId"] = row.external_id
        name = {
            k: v for k, v in (("givenName", row.given_name), ("familyName", row.family_name)) if v
        }
        if name:
            doc["name"] = name
        if row.display_name:
            doc["displayName"] = row.display_name
        if row.emails:
            doc["emails"] = row.emails
        doc["active"] = row.disabled_at is None
        if groups:
            doc["groups"] = [{"value": r.scim_id, "display": r.display_name} for r in groups]
        doc["meta"] = {
            "resourceType": "User",
            "created": _iso(row.created_at),
            "lastModified": _iso(row.updated_at),
            "version": _etag(row.version),
            "location": f"{self.base}/Users/{row.scim_id}",
        }
        return doc

    def _user_rows(self) -> Any:
        a = it.accounts
        return select(a, web_users.c.name, web_users.c.disabled_at).join(
            web_users, web_users.c.id == a.c.user_id
        )

    def _user_row(self, conn: Connection, scim_id: str) -> Any:
        row = conn.execute(self._user_rows().where(it.accounts.c.scim_id == scim_id)).first()
        if row is None:
            raise ScimError(404, f"no User {scim_id}")
        return row

    def get_user(self, scim_id: str) -> dict[str, Any]:
        with self.runtime.db.read() as conn:
            return self._user_doc(conn, self._user_row(conn, scim_id))

    def list_users(self, flt: m.Filter | None, start: int, count: int) -> dict[str, Any]:
        a = it.accounts
        query = self._user_rows()
        if flt is not None:
            column = {
                "userName": a.c.user_name,
                "externalId": a.c.external_id,
                "id": a.c.scim_id,
                "emails.value": a.c.email,
                "emails": a.c.email,
            }[flt.attribute]
            value = flt.value
            if flt.attribute in ("userName", "emails.value", "emails") and isinstance(value, str):
                value = value.lower()
            query = query.where(column == value)
        with self.runtime.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(
                query.order_by(a.c.created_at, a.c.user_id).offset(start - 1).limit(count)
            ).all()
            docs = [self._user_doc(conn, r) for r in rows]
        return m.list_response(docs, int(total), start)

    # ---- users: writes ---------------------------------------------------------------

    def _parse_user(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ScimError(400, "a User is a JSON object", "invalidSyntax")
        body = m.canonical_keys(body)
        user_name = body.get("userName")
        if not isinstance(user_name, str) or not user_name.strip() or len(user_name) > 320:
            raise ScimError(
                400, "userName is required (a string of at most 320 characters)", "invalidValue"
            )
        name = body.get("name") or {}
        if not isinstance(name, dict):
            raise ScimError(400, "name is an object", "invalidValue")
        emails = body.get("emails") or []
        if not isinstance(emails, list) or not all(
            isinstance(e, dict) and isinstance(e.get("value"), str) for e in emails
        ):
            raise ScimError(400, "emails is a list of {value, type, primary}", "invalidValue")
        emails = [
            {k: v for k, v in e.items() if k in ("value", "type", "primary")} for e in emails
        ][:10]
        for e in emails:
            if "primary" in e:
                e["primary"] = m.as_bool(e["primary"], "emails.primary")
        primary = next((e for e in emails if e.get("primary")), emails[0] if emails else None)

        def text(value: Any, what: str, limit: int = 200) -> str | None:
            if value is None:
                return None
            if not isinstance(value, str) or len(value) > limit:
                raise ScimError(
                    400, f"{what} is a string of at most {limit} characters", "invalidValue"
                )
            return value or None

        return {
            "user_name": user_name.strip().lower(),
            "external_id": text(body.get("externalId"), "externalId", 255),
            "display_name": text(body.get("displayName"), "displayName"),
            "given_name": text(name.get("givenName"), "name.givenName"),
            "family_name": text(name.get("familyName"), "name.familyName"),
            "emails": emails,
            "email": primary["value"].strip().lower()[:320] if primary else None,
            "active": m.as_bool(body.get("active", True), "active"),
        }

    def create_user(self, body: Any, actor: str) -> dict[str, Any]:
        try:
            return self._create_user(body, actor)
        except IntegrityError as exc:  # the same userName posted twice at once
            raise ScimError(409, "userName is taken", "uniqueness") from exc

    def _create_user(self, body: Any, actor: str) -> dict[str, Any]:
        data = self._parse_user(body)
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            taken = conn.execute(
                select(it.accounts.c.user_id).where(it.accounts.c.user_name == data["user_name"])
            ).first()
            if taken is not None:
                raise ScimError(409, f"userName {data['user_name']} is taken", "uniqueness")
            name = accounts.slug_for(conn, data["user_name"], data["email"], data["display_name"])
            role = self.settings.default_role or "viewer"
            created = accounts.create_user(conn, name=name, role=role, created_by=actor, now=now)
            conn.execute(
                insert(it.accounts).values(
                    user_id=created["id"],
                    scim_id=str(uuid.uuid4()),
                    user_name=data["user_name"],
                    external_id=data["external_id"],
                    display_name=data["display_name"],
                    given_name=data["given_name"],
                    family_name=data["family_name"],
                    emails=data["emails"],
                    email=data["email"],
                    person=name,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            if not data["active"]:
                accounts.disable_user(conn, created["id"], actor=actor, now=now)
            row = conn.execute(
                self._user_rows().where(it.accounts.c.user_id == created["id"])
            ).one()
            doc = self._user_doc(conn, row)
        self._sync_person(name, data, active=data["active"])
        log.info("SCIM: created user %s (%s)", name, data["user_name"])
        return doc

    def _check_version(self, row: Any, if_match: str | None) -> None:
        if if_match and if_match.strip() != "*" and _etag(row.version) not in if_match:
            raise ScimError(412, f"the resource changed (now {_etag(row.version)})")

    def replace_user(
        self, scim_id: str, body: Any, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        data = self._parse_user(body)
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            row = self._user_row(conn, scim_id)
            self._check_version(row, if_match)
            clash = conn.execute(
                select(it.accounts.c.user_id).where(
                    it.accounts.c.user_name == data["user_name"],
                    it.accounts.c.user_id != row.user_id,
                )
            ).first()
            if clash is not None:
                raise ScimError(409, f"userName {data['user_name']} is taken", "uniqueness")
            values = {k: v for k, v in data.items() if k != "active"}
            conn.execute(
                update(it.accounts)
                .where(it.accounts.c.user_id == row.user_id)
                .values(**values, version=row.version + 1, updated_at=now)
            )
            was_active = row.disabled_at is None
            if was_active and not data["active"]:
                accounts.disable_user(conn, row.user_id, actor=actor, now=now)
            elif not was_active and data["active"]:
                accounts.enable_user(conn, row.user_id, actor=actor, now=now)
            doc = self._user_doc(conn, self._user_row(conn, scim_id))
        if row.person:
            self._sync_person(row.person, data, active=data["active"])
        if was_active != data["active"]:
            log.info("SCIM: user %s %s", row.name, "enabled" if data["active"] else "disabled")
        return doc

    def patch_user(
        self, scim_id: str, body: Any, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        current = self.get_user(scim_id)
        ops = body.get("Operations") if isinstance(body, dict) else None
        if ops is None and isinstance(body, dict):
            ops = body.get("operations")
        patched = m.apply_patch(current, ops, _USER_MULTI, {"groups"})
        return self.replace_user(scim_id, patched, actor, if_match)

    def delete_user(self, scim_id: str, actor: str, if_match: str | None) -> None:
        """Deprovision: the user is disabled at once and the SCIM resource is gone. The web
        user and on-call person stay (disabled) so past timelines keep their names."""
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            row = self._user_row(conn, scim_id)
            self._check_version(row, if_match)
            accounts.disable_user(conn, row.user_id, actor=actor, now=now)
            conn.execute(
                delete(it.scim_group_members).where(it.scim_group_members.c.user_id == row.user_id)
            )
            conn.execute(delete(it.accounts).where(it.accounts.c.user_id == row.user_id))
        if row.person:
            self._disable_person(row.person, True)
        log.info("SCIM: user %s deleted (disabled)", row.name)

    # ---- the on-call side --------------------------------------------------------------

    def _principal(self) -> Principal:
        return Principal(name="scim", scopes=frozenset({"admin"}), kind="system")

    def _sync_person(self, name: str, data: dict[str, Any], *, active: bool) -> None:
        """Keep the on-call person of this account in step (created when missing)."""
        oncall = self._oncall()
        if oncall is None:
            return
        from warroom.oncall import models

        display = (
            data["display_name"]
            or " ".join(p for p in (data["given_name"], data["family_name"]) if p)
            or name
        )
        try:
            try:
                oncall.show("person", name)
            except NotFound:
                person = models.PersonIn(name=name, display_name=display, email=data["email"] or "")
                oncall.create_person(self._principal(), person)
            else:
                patch = models.PersonPatch(display_name=display, email=data["email"] or None)
                oncall.update_person(self._principal(), name, patch)
        except (WarroomError, ValidationError) as exc:
            # The account is provisioned; the on-call person can be fixed by hand.
            log.warning("SCIM: on-call person %s not updated: %s", name, exc)
        self._disable_person(name, not active)

    def _disable_person(self, name: str, disabled: bool) -> None:
        oncall = self._oncall()
        if oncall is None:
            return
        try:
            oncall.set_person_disabled(self._principal(), name, disabled)
        except WarroomError as exc:
            log.warning("SCIM: on-call person %s not updated: %s", name, exc.message)

    def _sync_team(self, group_id: int) -> None:
        if not self.settings.scim_groups_as_teams or self._oncall() is None:
            return
        from warroom.oncall import models

        oncall = self._oncall()
        g, gm, a = it.scim_groups, it.scim_group_members, it.accounts
        with self.runtime.db.read() as conn:
            group = conn.execute(select(g).where(g.c.id == group_id)).first()
            if group is None or not group.team:
                return
            people = [
                r.person
                for r in conn.execute(
                    select(a.c.person)
                    .join(gm, gm.c.user_id == a.c.user_id)
                    .where(gm.c.group_id == group_id, a.c.person.is_not(None))
                    .order_by(a.c.person)
                )
            ]
        try:
            try:
                oncall.show("team", group.team)
            except NotFound:
                team = models.TeamIn(name=group.team, members=people)
                oncall.create_team(self._principal(), team)
            else:
                patch = models.TeamPatch(members=people)
                oncall.update_team(self._principal(), group.team, patch)
        except (WarroomError, ValidationError) as exc:
            log.warning("SCIM: on-call team %s not updated: %s", group.team, exc)

    # ---- groups ------------------------------------------------------------------------

    def _group_doc(self, conn: Connection, row: Any) -> dict[str, Any]:
        a, gm = it.accounts, it.scim_group_members
        members = conn.execute(
            select(a.c.scim_id, a.c.display_name, a.c.user_name)
            .join(gm, gm.c.user_id == a.c.user_id)
            .where(gm.c.group_id == row.id)
            .order_by(a.c.user_name)
        ).all()
        doc: dict[str, Any] = {
            "schemas": [m.GROUP],
            "id": row.scim_id,
            "displayName": row.display_name,
        }
        if row.external_id:
            doc["externalId"] = row.external_id
        listed = [{"value": r.scim_id, "$ref": f"{self.base}/Users/{r.scim_id}"} for r in members]
        if row.member_groups:
            g = it.scim_groups
            names = dict(
                conn.execute(
                    select(g.c.scim_id, g.c.display_name).where(g.c.scim_id.in_(row.member_groups))
                ).tuples()
            )
            listed += [
                {"value": x, "$ref": f"{self.base}/Groups/{x}"}
                for x in row.member_groups
                if x in names
            ]
        if listed:
            doc["members"] = listed
        doc["meta"] = {
            "resourceType": "Group",
            "created": _iso(row.created_at),
            "lastModified": _iso(row.updated_at),
            "version": _etag(row.version),
            "location": f"{self.base}/Groups/{row.scim_id}",
        }
        return doc

    def _group_row(self, conn: Connection, scim_id: str) -> Any:
        row = conn.execute(
            select(it.scim_groups).where(it.scim_groups.c.scim_id == scim_id)
        ).first()
        if row is None:
            raise ScimError(404, f"no Group {scim_id}")
        return row

    def get_group(self, scim_id: str, members: bool = True) -> dict[str, Any]:
        with self.runtime.db.read() as conn:
            return self._group_doc(conn, self._group_row(conn, scim_id))

    def list_groups(self, flt: m.Filter | None, start: int, count: int) -> dict[str, Any]:
        g = it.scim_groups
        query = select(g)
        if flt is not None:
            column = {
                "displayName": g.c.display_name,
                "externalId": g.c.external_id,
                "id": g.c.scim_id,
            }[flt.attribute]
            query = query.where(column == flt.value)
        with self.runtime.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(g.c.id).offset(start - 1).limit(count)).all()
            docs = [self._group_doc(conn, r) for r in rows]
        return m.list_response(docs, int(total), start)

    def _parse_group(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ScimError(400, "a Group is a JSON object", "invalidSyntax")
        body = m.canonical_keys(body)
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ScimError(400, "displayName is required (at most 200 characters)", "invalidValue")
        members = body.get("members") or []
        if isinstance(members, list):
            for x in members:  # a member named only by its URI
                if isinstance(x, dict) and not x.get("value") and isinstance(x.get("$ref"), str):
                    x["value"] = x["$ref"].rstrip("/").rsplit("/", 1)[-1]
        if not isinstance(members, list) or not all(
            isinstance(x, dict) and isinstance(x.get("value"), str) for x in members
        ):
            raise ScimError(400, "members is a list of {value: User id}", "invalidValue")
        external = body.get("externalId")
        if external is not None and (not isinstance(external, str) or len(external) > 255):
            raise ScimError(400, "externalId is a string", "invalidValue")
        return {
            "display_name": name.strip(),
            "external_id": external or None,
            "members": list(dict.fromkeys(x["value"] for x in members)),
        }

    def _set_members(self, conn: Connection, group_id: int, member_ids: list[str]) -> set[int]:
        """Replace a group's members; return every user whose groups changed."""
        a, gm = it.accounts, it.scim_group_members
        found = {
            r.scim_id: r.user_id
            for r in conn.execute(
                select(a.c.scim_id, a.c.user_id).where(a.c.scim_id.in_(member_ids))
            )
        }
        g = it.scim_groups
        nested = [
            r.scim_id
            for r in conn.execute(
                select(g.c.scim_id).where(g.c.scim_id.in_(member_ids), g.c.id != group_id)
            )
        ]
        conn.execute(update(g).where(g.c.id == group_id).values(member_groups=nested))
        missing = [x for x in member_ids if x not in found and x not in nested]
        if missing:
            raise ScimError(400, f"unknown member(s): {', '.join(missing[:5])}", "invalidValue")
        before = {
            r.user_id for r in conn.execute(select(gm.c.user_id).where(gm.c.group_id == group_id))
        }
        after = set(found.values())
        conn.execute(delete(gm).where(gm.c.group_id == group_id))
        for user_id in sorted(after):
            conn.execute(insert(gm).values(group_id=group_id, user_id=user_id))
        return before ^ after

    def _apply_roles(self, conn: Connection, user_ids: set[int], actor: str, now: datetime) -> None:
        """Roles follow group membership when role mapping is configured."""
        if not accounts.role_mapping_configured(self.settings):
            return
        g, gm = it.scim_groups, it.scim_group_members
        for user_id in user_ids:
            names = conn.execute(
                select(g.c.display_name)
                .join(gm, gm.c.group_id == g.c.id)
                .where(gm.c.user_id == user_id)
            ).scalars()
            role = accounts.role_for_groups(names, self.settings) or "viewer"
            user = conn.execute(
                select(web_users.c.name, web_users.c.role).where(web_users.c.id == user_id)
            ).first()
            if user is not None and user.role != role:
                conn.execute(update(web_users).where(web_users.c.id == user_id).values(role=role))
                conn.execute(
                    update(it.accounts)
                    .where(it.accounts.c.user_id == user_id)
                    .values(version=it.accounts.c.version + 1, updated_at=now)
                )
                audit.record(
                    conn, actor=actor, action="user.role", target=f"user:{user.name}", now=now,
                    details={"from": user.role, "to": role},
                )  # fmt: skip

    def create_group(self, body: Any, actor: str) -> dict[str, Any]:
        try:
            return self._create_group(body, actor)
        except IntegrityError as exc:  # the same displayName posted twice at once
            raise ScimError(409, "displayName is taken", "uniqueness") from exc

    def _create_group(self, body: Any, actor: str) -> dict[str, Any]:
        data = self._parse_group(body)
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            exists = conn.execute(
                select(it.scim_groups.c.id).where(
                    it.scim_groups.c.display_name == data["display_name"]
                )
            ).first()
            if exists is not None:
                raise ScimError(409, f"group {data['display_name']} exists", "uniqueness")
            team = None
            if self.settings.scim_groups_as_teams:
                team = accounts.team_slug(data["display_name"])
            result = conn.execute(
                insert(it.scim_groups).values(
                    scim_id=str(uuid.uuid4()),
                    display_name=data["display_name"],
                    external_id=data["external_id"],
                    team=team,
                    member_groups=[],
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            group_id = int(result.inserted_primary_key[0])
            changed = self._set_members(conn, group_id, data["members"])
            self._apply_roles(conn, changed, actor, now)
            doc = self._group_doc(
                conn,
                conn.execute(select(it.scim_groups).where(it.scim_groups.c.id == group_id)).one(),
            )
        self._sync_team(group_id)
        return doc

    def replace_group(
        self, scim_id: str, body: Any, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        data = self._parse_group(body)
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            row = self._group_row(conn, scim_id)
            self._check_version(row, if_match)
            try:
                with conn.begin_nested():
                    conn.execute(
                        update(it.scim_groups)
                        .where(it.scim_groups.c.id == row.id)
                        .values(
                            display_name=data["display_name"],
                            external_id=data["external_id"],
                            version=row.version + 1,
                            updated_at=now,
                        )
                    )
            except IntegrityError as exc:
                raise ScimError(409, f"group {data['display_name']} exists", "uniqueness") from exc
            changed = self._set_members(conn, row.id, data["members"])
            if data["display_name"] != row.display_name:
                changed |= {
                    r.user_id
                    for r in conn.execute(
                        select(it.scim_group_members.c.user_id).where(
                            it.scim_group_members.c.group_id == row.id
                        )
                    )
                }
            self._apply_roles(conn, changed, actor, now)
            doc = self._group_doc(conn, self._group_row(conn, scim_id))
        self._sync_team(row.id)
        return doc

    def patch_group(
        self, scim_id: str, body: Any, actor: str, if_match: str | None
    ) -> dict[str, Any]:
        current = self.get_group(scim_id)
        ops = body.get("Operations") if isinstance(body, dict) else None
        patched = m.apply_patch(current, ops, _GROUP_MULTI, set())
        return self.replace_group(scim_id, patched, actor, if_match)

    def delete_group(self, scim_id: str, actor: str, if_match: str | None) -> None:
        now = self.runtime.clock.now()
        with self.runtime.db.write() as conn:
            row = self._group_row(conn, scim_id)
            self._check_version(row, if_match)
            members = set(
                conn.execute(
                    select(it.scim_group_members.c.user_id).where(
                        it.scim_group_members.c.group_id == row.id
                    )
                ).scalars()
            )
            conn.execute(delete(it.scim_groups).where(it.scim_groups.c.id == row.id))
            self._apply_roles(conn, members, actor, now)
        # The on-call team stays: escalation policies may page it; an admin retires it.


# ---- HTTP --------------------------------------------------------------------------------


def _service(request: Request) -> ScimService:
    runtime: Runtime = request.app.state.runtime
    base = runtime.settings.public_url() + "/scim/v2"
    return ScimService(runtime, base)


def _principal(request: Request) -> Principal:
    runtime: Runtime = request.app.state.runtime
    token = bearer_token(request)
    if token is None:
        raise ScimError(401, "send 'Authorization: Bearer <token with the scim scope>'")
    now = runtime.clock.now()
    try:
        with runtime.db.read() as conn:
            principal = authenticate(conn, token, now)
    except WarroomError as exc:
        raise ScimError(401, exc.message) from exc
    record_use(runtime.db, principal, now)
    if "scim" not in principal.scopes:
        raise ScimError(403, f"{principal.name} lacks the 'scim' scope")
    return principal


def _json(body: Any, status: int = 200, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag else {}
    if isinstance(body, dict) and "meta" in body and status == 201:
        headers["Location"] = body["meta"]["location"]
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def _error(exc: ScimError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, media_type=MEDIA)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ScimError(400, "the body is not JSON", "invalidSyntax") from exc


def _paging(request: Request) -> tuple[int, int]:
    try:
        start = int(request.query_params.get("startIndex", "1"))
        count = int(request.query_params.get("count", "100"))
    except ValueError as exc:
        raise ScimError(400, "startIndex and count are integers", "invalidValue") from exc
    return max(start, 1), min(max(count, 0), m.MAX_RESULTS)


def _project(doc: dict[str, Any], request: Request) -> dict[str, Any]:
    """`attributes` / `excludedAttributes` (top-level names), e.g. excludedAttributes=members."""
    keep = request.query_params.get("attributes")
    drop = request.query_params.get("excludedAttributes")
    return _project_with(doc, keep, drop)


def _project_with(doc: dict[str, Any], keep: str | None, drop: str | None) -> dict[str, Any]:
    if keep:
        wanted = {m.canonical(a.strip().split(".")[0]) for a in keep.split(",")} | {
            "id",
            "schemas",
            "meta",
        }
        return {k: v for k, v in doc.items() if k in wanted}
    if drop:
        unwanted = {m.canonical(a.strip()) for a in drop.split(",")} - {"id", "schemas"}
        return {k: v for k, v in doc.items() if k not in unwanted}
    return doc


def _list(request: Request, result: dict[str, Any]) -> dict[str, Any]:
    result["Resources"] = [_project(r, request) for r in result["Resources"]]
    return result


async def _run(request: Request, action: Any) -> Response:
    try:
        principal = _principal(request)
        response: Response = await action(principal)
        return response
    except ScimError as exc:
        return _error(exc)
    except WarroomError as exc:  # from the services underneath (e.g. a name taken meanwhile)
        return _error(ScimError(exc.status_code, exc.message))


_USER_FILTERS = {"userName", "externalId", "id", "emails.value", "emails"}
_GROUP_FILTERS = {"displayName", "externalId", "id"}


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request) -> Response:
    async def go(_: Principal) -> Response:
        service = _service(request)
        docs = service.runtime.settings.public_url() + "/docs/identity"
        return _json(m.service_provider_config(service.base, docs))

    return await _run(request, go)


@router.get("/ResourceTypes")
async def resource_types(request: Request) -> Response:
    async def go(_: Principal) -> Response:
        types = m.resource_types(_service(request).base)
        return _json(m.list_response(types, len(types), 1))

    return await _run(request, go)


@router.get("/ResourceTypes/{name}")
async def resource_type(request: Request, name: str) -> Response:
    async def go(_: Principal) -> Response:
        for doc in m.resource_types(_service(request).base):
            if doc["id"] == name:
                return _json(doc)
        raise ScimError(404, f"no ResourceType {name}")

    return await _run(request, go)


@router.get("/Schemas")
async def schemas(request: Request) -> Response:
    async def go(_: Principal) -> Response:
        docs = m.schema_documents(_service(request).base)
        return _json(m.list_response(docs, len(docs), 1))

    return await _run(request, go)


@router.get("/Schemas/{schema_id}")
async def schema(request: Request, schema_id: str) -> Response:
    async def go(_: Principal) -> Response:
        for doc in m.schema_documents(_service(request).base):
            if doc["id"] == schema_id:
                return _json(doc)
        raise ScimError(404, f"no Schema {schema_id}")

    return await _run(request, go)


def _actor(principal: Principal) -> str:
    return f"scim:{principal.name.removeprefix('token:')}"


@router.get("/Users")
async def list_users(request: Request) -> Response:
    async def go(_: Principal) -> Response:
        flt = m.parse_filter(request.query_params.get("filter"), _USER_FILTERS)
        start, count = _paging(request)
        result = await run_in_threadpool(_service(request).list_users, flt, start, count)
        return _json(_list(request, result))

    return await _run(request, go)


@router.post("/Users")
async def create_user(request: Request) -> Response:
    async def go(principal: Principal) -> Response:
        body = await _body(request)
        doc = await run_in_threadpool(_service(request).create_user, body, _actor(principal))
        return _json(doc, 201, doc["meta"]["version"])

    return await _run(request, go)


@router.get("/Users/{scim_id}")
async def get_user(request: Request, scim_id: str) -> Response:
    async def go(_: Principal) -> Response:
        doc = await run_in_threadpool(_service(request).get_user, scim_id)
        return _json(_project(doc, request), etag=doc["meta"]["version"])

    return await _run(request, go)


@router.put("/Users/{scim_id}")
async def replace_user(request: Request, scim_id: str) -> Response:
    async def go(principal: Principal) -> Response:
        body = await _body(request)
        doc = await run_in_threadpool(
            _service(request).replace_user, scim_id, body, _actor(principal),
            request.headers.get("if-match"),
        )  # fmt: skip
        return _json(doc, etag=doc["meta"]["version"])

    return await _run(request, go)


@router.patch("/Users/{scim_id}")
async def patch_user(request: Request, scim_id: str) -> Response:
    async def go(principal: Principal) -> Response:
        body = await _body(request)
        doc = await run_in_threadpool(
            _service(request).patch_user, scim_id, body, _actor(principal),
            request.headers.get("if-match"),
        )  # fmt: skip
        return _json(doc, etag=doc["meta"]["version"])

    return await _run(request, go)


@router.delete("/Users/{scim_id}")
async def delete_user(request: Request, scim_id: str) -> Response:
    async def go(principal: Principal) -> Response:
        await run_in_threadpool(
            _service(request).delete_user, scim_id, _actor(principal),
            request.headers.get("if-match"),
        )  # fmt: skip
        return Response(status_code=204)

    return await _run(request, go)


@router.get("/Groups")
async def list_groups(request: Request) -> Response:
    async def go(_: Principal) -> Response:
        flt = m.parse_filter(request.query_params.get("filter"), _GROUP_FILTERS)
        start, count = _paging(request)
        result = await run_in_threadpool(_service(request).list_groups, flt, start, count)
        return _json(_list(request, result))

    return await _run(request, go)


@router.post("/Groups")
async def create_group(request: Request) -> Response:
    async def go(principal: Principal) -> Response:
        body = await _body(request)
        doc = await run_in_threadpool(_service(request).create_group, body, _actor(principal))
        return _json(doc, 201, doc["meta"]["version"])

    return await _run(request, go)


@router.get("/Groups/{scim_id}")
async def get_group(request: Request, scim_id: str) -> Response:
    async def go(_: Principal) -> Response:
        doc = await run_in_threadpool(_service(request).get_group, scim_id)
        return _json(_project(doc, request), etag=doc["meta"]["version"])

    return await _run(request, go)


@router.put("/Groups/{scim_id}")
async def replace_group(request: Request, scim_id: str) -> Response:
    async def go(principal: Principal) -> Response:
        body = await _body(request)
        doc = await run_in_threadpool(
            _service(request).replace_group, scim_id, body, _actor(principal),
            request.headers.get("if-match"),
        )  # fmt: skip
        return _json(doc, etag=doc["meta"]["version"])

    return await _run(request, go)


@router.patch("/Groups/{scim_id}")
async def patch_group(request: Request, scim_id: str) -> Response:
    async def go(principal: Principal) -> Response:
        body = await _body(request)
        doc = await run_in_threadpool(
            _service(request).patch_group, scim_id, body, _actor(principal),
            request.headers.get("if-match"),
        )  # fmt: skip
        return _json(doc, etag=doc["meta"]["version"])

    return await _run(request, go)


@router.delete("/Groups/{scim_id}")
async def delete_group(request: Request, scim_id: str) -> Response:
    async def go(principal: Principal) -> Response:
        await run_in_threadpool(
            _service(request).delete_group, scim_id, _actor(principal),
            request.headers.get("if-match"),
        )  # fmt: skip
        return Response(status_code=204)

    return await _run(request, go)


@router.post("/.search")
@router.post("/Users/.search")
@router.post("/Groups/.search")
async def search(request: Request) -> Response:
    """POST searches (RFC 7644 §3.4.3): the same filter, paging and attributes as GET."""

    async def go(_: Principal) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise ScimError(400, "a SearchRequest is a JSON object", "invalidSyntax")
        params = {k: str(v) if not isinstance(v, list) else ",".join(map(str, v))
                  for k, v in body.items() if k != "schemas" and v is not None}  # fmt: skip
        service = _service(request)
        path = request.url.path
        kinds = ["Users", "Groups"] if path.endswith("/v2/.search") else [path.split("/")[-2]]
        start = max(int(params.get("startIndex", "1") or 1), 1)
        count = min(max(int(params.get("count", "100") or 100), 0), m.MAX_RESULTS)
        resources: list[dict[str, Any]] = []
        total = 0
        for kind in kinds:
            allowed = _USER_FILTERS if kind == "Users" else _GROUP_FILTERS
            text = params.get("filter")
            if text and len(kinds) > 1:
                try:
                    flt = m.parse_filter(text, allowed)
                except ScimError:
                    continue  # a filter on the other type's attribute
            else:
                flt = m.parse_filter(text, allowed)
            lister = service.list_users if kind == "Users" else service.list_groups
            found = await run_in_threadpool(lister, flt, 1, m.MAX_RESULTS)
            total += found["totalResults"]
            resources += found["Resources"]
        page = resources[start - 1 : start - 1 + count]
        keep, drop = params.get("attributes"), params.get("excludedAttributes")
        page = [_project_with(r, keep, drop) for r in page]
        return _json(m.list_response(page, total, start))

    return await _run(request, go)


_DISCOVERY = ("ServiceProviderConfig", "ResourceTypes", "Schemas")


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def not_found(request: Request, rest: str) -> Response:
    async def go(_: Principal) -> Response:
        if rest.split("/", 1)[0] in _DISCOVERY:
            raise ScimError(405, f"{request.method} is not allowed on /{rest} (read-only)")
        raise ScimError(404, f"no SCIM endpoint /{rest}")

    return await _run(request, go)
