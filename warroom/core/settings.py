"""Settings: built once at start-up from the environment and flags, then passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The config file read from the data dir when none is configured.
DATA_DIR_CONFIG = "warroom.yaml"


class Settings(BaseSettings):
    """Everything warroom reads from its environment (`WARROOM_*`)."""

    model_config = SettingsConfigDict(env_prefix="WARROOM_", extra="ignore")

    data_dir: Path = Path("./warroom-data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    admin_token: SecretStr | None = None
    config: Path | None = None
    base_url: str | None = Field(
        default=None, description="Public URL used in links (defaults to http://host:port)."
    )
    max_body_bytes: int = 512 * 1024
    sqlite_synchronous: str = "FULL"
    worker_poll_seconds: float = 0.5
    # Deliveries (notifications) a worker runs at once, their outcomes recorded in batches: a
    # slow provider does not hold up other pages, and a page storm needs far fewer commits. A
    # killed worker repeats at most this many; 1 (each recorded before the next starts)
    # repeats at most the one in flight.
    worker_concurrency: int = Field(default=16, ge=1, le=256)
    # Per API token: sustained requests per second and burst (0 disables the limit).
    token_rate_limit: float = Field(default=50.0, ge=0)
    token_rate_burst: int = Field(default=200, ge=1)
    # Sign-in with an OpenID provider (warroom.identity; docs/identity.md). Set the issuer, the
    # client id and secret to enable it.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile groups"
    oidc_provider_name: str = "single sign-on"
    oidc_groups_claim: str = "groups"
    oidc_create_users: bool = True
    # Group names (comma-separated) that grant each role, from OIDC claims and SCIM groups;
    # the highest matching role wins. `default_role` is given to people in none of them
    # (unset: they are refused).
    admin_groups: str = ""
    responder_groups: str = ""
    viewer_groups: str = ""
    default_role: Literal["admin", "responder", "viewer"] | None = None
    # SCIM groups become on-call teams of the same name (slugged).
    scim_groups_as_teams: bool = True
    # Local user name + password login on the web login page.
    password_login: bool = True
    # Behind a TLS-terminating proxy: trust its X-Forwarded-Proto/For from these addresses
    # (comma-separated, or "*"), so cookies are Secure and login throttling sees the client.
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'warroom.db').resolve()}"

    def config_file(self) -> Path | None:
        """The configured config file, else `warroom.yaml` in the data dir when there is one
        (`warroom demo` writes its service catalog there)."""
        if self.config is not None:
            return self.config
        found = self.data_dir / DATA_DIR_CONFIG
        return found if found.is_file() else None

    def public_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def ensure_data_dir(self) -> Path:
        """Create the data dir with owner-only permissions."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        return self.data_dir
