"""JSON on the hot paths (alert webhooks, the intake log) through orjson, with the standard
library's reading of anything orjson refuses, so what is accepted and what it means do not
change: strict JSON (no NaN or Infinity), integers of any size, lone surrogate escapes."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


# orjson reads an integer past 64 bits as a float; a text with a run of 19 digits or more (an
# integer that may be that large, or only digits in a string) is read by the standard library.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def _reject(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


def loads(raw: bytes | str) -> Any:
    """Parse strict JSON; ValueError (or UnicodeDecodeError, RecursionError) when it is not."""
    long_digits = (
        _LONG_DIGITS.search(raw) if isinstance(raw, bytes) else _LONG_DIGITS_TEXT.search(raw)
    )
    if long_digits is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return json.loads(text, parse_constant=_reject)


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8, no spaces) that `loads` reads back to `value`."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # an integer past 64 bits, a lone surrogate, a key that is not a string
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
