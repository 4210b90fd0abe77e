"""What every response model of the API builds on (see docs/architecture.md, "Response models").

Each route declares its body with `response_model=` (a model of its package's `responses.py`),
so `/api/openapi.json` documents every answer and FastAPI checks each one against it.

- `ApiModel`: the base. Keys a handler returns beyond the declared fields are kept (a field
  added to a view is never silently lost) but must be declared in the same change:
  `tests/api/test_pagination.py` fails on an undeclared field in any list's items, and the
  fuzz test (`tests/reliability/test_api_fuzz.py`) checks every answer against its schema.
- `ApiRoute`: the route class of every API router. Fields a route may leave out are declared
  optional (`= None`) and, when the handler leaves them out, stay out of the body
  (`response_model_exclude_unset`): a body keeps exactly the keys it always had.
- `IsoTime` / `IsoDate`: times as ISO 8601 text, exactly as `datetime.isoformat()` writes them
  (a handler may return the datetime or the text).
- `Number`: a JSON number that may be an integer or not (durations, ratios).
- `JsonObject`: a free-form JSON object (labels, payloads, answers): its keys are data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

__all__ = [
    "ApiModel",
    "ApiRoute",
    "Deleted",
    "IsoDate",
    "IsoTime",
    "JsonObject",
    "Number",
]


class ApiModel(BaseModel):
    """A response body (or part of one)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ApiRoute(APIRoute):
    """Serialises the response model without the optional fields the handler left out."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)


def _iso_time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _iso_date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


IsoTime = Annotated[
    str, BeforeValidator(_iso_time), WithJsonSchema({"type": "string", "format": "date-time"})
]
IsoDate = Annotated[
    str, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]
Number = int | float
JsonObject = dict[str, Any]


class Deleted(ApiModel):
    """What a removal answers: the id of what is gone."""

    id: int | str
