"""Step executors: run one command, HTTP check or Prometheus query and report what happened.

They do I/O but no storage: the runbook service records their results on the timeline.
Every executor has a timeout, and output is truncated before it goes anywhere.
"""

from __future__ import annotations

import math
import operator
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # the check could not run (timeout, unreachable, bad answer)

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class StepResult:
    status: str  # passed | failed | error
    output: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == PASSED


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, marking what was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return text[:limit] + f"\n... [truncated {cut} characters]"


def command_env(
    allow: Sequence[str], fixed: Mapping[str, str], source: Mapping[str, str]
) -> dict[str, str]:
    """Only allow-listed variables pass through from `source`; `fixed` ones are set as given."""
    env = {name: source[name] for name in allow if name in source}
    env.update(fixed)
    return env


def run_command(
    command: str,
    *,
    timeout: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    max_output: int = 4000,
) -> StepResult:
    """Run a shell command in its own process group; kill the group when it times out."""
    if cwd is not None and not os.path.isdir(cwd):
        return StepResult(ERROR, f"working directory {cwd} does not exist", {"exit_code": None})
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=cwd,
            env=dict(env or {}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return StepResult(ERROR, f"cannot start: {exc}", {"exit_code": None})
    try:
        raw, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raw, _ = process.communicate()
        output = truncate(raw.decode("utf-8", "replace"), max_output)
        return StepResult(
            ERROR,
            output + f"\n[timed out after {timeout:g}s]",
            {"exit_code": None, "timed_out": True},
        )
    output = truncate(raw.decode("utf-8", "replace"), max_output)
    status = PASSED if process.returncode == 0 else FAILED
    return StepResult(status, output, {"exit_code": process.returncode, "timed_out": False})


_CLIENT: httpx.Client | None = None
_CLIENT_LOCK = threading.Lock()


def _http() -> httpx.Client:
    """One shared client: building TLS contexts per request costs tens of milliseconds."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None:
            _CLIENT = httpx.Client(follow_redirects=False)
        return _CLIENT


def safe_url(url: str) -> str:
    """A URL fit for the timeline: no user info, no query string (either may hold secrets)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(invalid URL)"
    port = f":{parsed.port}" if parsed.port else ""
    query = "?..." if parsed.query else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}{query}"


def http_check(
    url: str,
    *,
    method: str = "GET",
    expect_status: Sequence[int] = (200,),
    expect_body: str | None = None,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    max_output: int = 2000,
) -> StepResult:
    """One request; passed when the status is expected and the body contains `expect_body`."""
    shown = safe_url(url)
    try:
        response = _http().request(
            method, url, headers=dict(headers or {}), content=body, timeout=timeout
        )
    except httpx.TimeoutException:
        return StepResult(ERROR, f"{method} {shown}: timed out after {timeout:g}s", {"url": shown})
    except httpx.HTTPError as exc:
        text = str(exc).replace(url, shown)
        return StepResult(ERROR, f"{method} {shown}: {type(exc).__name__}: {text}", {"url": shown})
    text = truncate(response.text, max_output)
    problems: list[str] = []
    if response.status_code not in expect_status:
        expected = ", ".join(str(s) for s in expect_status)
        problems.append(f"status {response.status_code} (expected {expected})")
    if expect_body is not None and expect_body not in response.text:
        problems.append(f"body does not contain {expect_body!r}")
    details = {"url": shown, "status_code": response.status_code}
    summary = f"{method} {shown} -> {response.status_code}"
    if problems:
        return StepResult(FAILED, summary + ": " + "; ".join(problems) + "\n" + text, details)
    return StepResult(PASSED, summary + "\n" + text, details)


def _prom_get(
    base: str, path: str, params: Mapping[str, str], timeout: float
) -> list[dict[str, Any]]:
    response = _http().get(base.rstrip("/") + path, params=dict(params), timeout=timeout)
    payload = response.json()
    if response.status_code != 200 or payload.get("status") != "success":
        raise ValueError(str(payload.get("error") or f"HTTP {response.status_code}"))
    result: list[dict[str, Any]] = payload["data"]["result"]
    return result


def _sample_value(sample: Any) -> float:
    return float(sample[1])


def metric_check(
    prometheus_url: str,
    query: str,
    *,
    op: str,
    threshold: float,
    now: datetime,
    baseline_window: timedelta | None = None,
    max_ratio: float | None = None,
    timeout: float = 10.0,
) -> StepResult:
    """Query the Prometheus HTTP API: the value now against a threshold and a baseline window.

    The value is the sum over the returned series. With `baseline_window`, the baseline is the
    mean of a range query over the window before now, and `max_ratio` bounds value/baseline.
    """
    details: dict[str, Any] = {"query": query, "threshold": threshold, "op": op}
    try:
        current = _prom_get(
            prometheus_url,
            "/api/v1/query",
            {"query": query, "time": f"{now.timestamp():.3f}"},
            timeout,
        )
        if not current:
            return StepResult(ERROR, "the query returned no data", details)
        value = sum(_sample_value(series["value"]) for series in current)
        details["value"] = value
        baseline: float | None = None
        if baseline_window is not None:
            start = now - baseline_window
            step = max(baseline_window.total_seconds() / 30, 1.0)
            ranged = _prom_get(
                prometheus_url,
                "/api/v1/query_range",
                {
                    "query": query,
                    "start": f"{start.timestamp():.3f}",
                    "end": f"{now.timestamp():.3f}",
                    "step": f"{step:g}",
                },
                timeout,
            )
            points: dict[float, float] = {}
            for series in ranged:
                for stamp, raw in series.get("values", []):
                    points[float(stamp)] = points.get(float(stamp), 0.0) + float(raw)
            finite = [v for v in points.values() if math.isfinite(v)]
            if finite:
                baseline = sum(finite) / len(finite)
            details["baseline"] = baseline
    except httpx.TimeoutException:
        return StepResult(ERROR, f"Prometheus query timed out after {timeout:g}s", details)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
        return StepResult(ERROR, f"Prometheus query failed: {exc}", details)
    problems: list[str] = []
    if not math.isfinite(value) or not _OPS[op](value, threshold):
        problems.append(f"value {value:g} is not {op} {threshold:g}")
    if baseline is not None and max_ratio is not None:
        ratio = value / baseline if baseline > 0 else (math.inf if value > 0 else 1.0)
        details["ratio"] = ratio
        if ratio > max_ratio:
            problems.append(f"value is {ratio:.2f}x the baseline {baseline:g} (max {max_ratio:g}x)")
    summary = f"value {value:g}" + (f", baseline {baseline:g}" if baseline is not None else "")
    if problems:
        return StepResult(FAILED, summary + ": " + "; ".join(problems), details)
    return StepResult(PASSED, summary + f" (healthy: {op} {threshold:g})", details)
