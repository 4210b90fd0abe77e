"""Response models of the users API (`warroom/web/user_admin.py`, `/api/v1/users`)."""

from __future__ import annotations

from warroom.api.models import ApiModel, IsoTime


class User(ApiModel):
    id: int
    name: str
    role: str
    created_at: IsoTime | None
    created_by: str | None
    disabled_at: IsoTime | None
    last_login_at: IsoTime | None


class UserList(ApiModel):
    items: list[User]


class UserCreated(ApiModel):
    id: int
    name: str
    role: str


class UserChanged(ApiModel):
    """What a change to a user did; only the fields that change touched are present."""

    name: str
    role: str | None = None
    disabled: bool | None = None
    deleted: bool | None = None
    sessions_ended: int | None = None
    tokens_revoked: int | None = None
