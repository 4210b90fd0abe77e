"""The `metrics:` section of the config file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MetricsConfig(BaseModel):
    """The `metrics:` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Serve /metrics without a token (only on a private network); default: a viewer token.
    exposition_public: bool = False
