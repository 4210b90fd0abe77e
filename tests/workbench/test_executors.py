"""Executors against real processes, a real HTTP server and a Prometheus-compatible server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.receiver import http_receiver
from tests.workbench.prometheus import fake_prometheus
from warroom.workbench import executors

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_command_success_captures_output(tmp_path: Path) -> None:
    result = executors.run_command("echo hello; pwd", timeout=10, cwd=str(tmp_path), env={})
    assert result.status == "passed"
    assert result.details["exit_code"] == 0
    assert "hello" in result.output
    assert str(tmp_path) in result.output


def test_command_failure_is_failed() -> None:
    result = executors.run_command("echo broken >&2; exit 3", timeout=10, env={})
    assert result.status == "failed"
    assert result.details["exit_code"] == 3
    assert "broken" in result.output


def test_command_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    result = executors.run_command(
        f"echo started; sleep 5; touch {marker}", timeout=0.5, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.status == "error"
    assert result.details["timed_out"] is True
    assert "started" in result.output
    assert "timed out" in result.output
    assert not marker.exists()


def test_command_env_is_an_allow_list() -> None:
    source = {"PATH": "/usr/bin:/bin", "SECRET_TOKEN": "s3cr3t", "REGION": "eu"}
    env = executors.command_env(("PATH", "REGION"), {"MODE": "incident"}, source)
    assert env == {"PATH": "/usr/bin:/bin", "REGION": "eu", "MODE": "incident"}
    result = executors.run_command("env", timeout=10, env=env)
    assert "SECRET_TOKEN" not in result.output
    assert "REGION=eu" in result.output
    assert "MODE=incident" in result.output


def test_command_output_is_truncated() -> None:
    result = executors.run_command(
        "i=0; while [ $i -lt 500 ]; do echo 0123456789; i=$((i+1)); done",
        timeout=10,
        env={"PATH": "/usr/bin:/bin"},
        max_output=200,
    )
    assert result.status == "passed"
    assert "[truncated" in result.output
    assert len(result.output) < 300


def test_command_with_missing_cwd_is_an_error(tmp_path: Path) -> None:
    result = executors.run_command("true", timeout=5, cwd=str(tmp_path / "nope"), env={})
    assert result.status == "error"


def test_http_check_status_and_body() -> None:
    with http_receiver() as receiver:
        ok = executors.http_check(receiver.url + "/health", expect_status=(200,), expect_body="{}")
        assert ok.status == "passed"
        assert ok.details["status_code"] == 200
        missing = executors.http_check(receiver.url + "/health", expect_body="healthy")
        assert missing.status == "failed"
        receiver.status = 503
        down = executors.http_check(receiver.url + "/health", expect_status=(200,))
        assert down.status == "failed"
        assert "503" in down.output
        assert [r.path for r in receiver.requests] == ["/health"] * 3


def test_http_check_unreachable_is_an_error() -> None:
    with http_receiver() as receiver:
        url = receiver.url
    result = executors.http_check(url + "/health", timeout=2)
    assert result.status == "error"


def test_metric_against_threshold_and_baseline() -> None:
    with fake_prometheus() as prom:
        prom.set("error_ratio", current=0.02, baseline=0.015)
        healthy = executors.metric_check(
            prom.url,
            "error_ratio",
            op="<",
            threshold=0.05,
            now=NOW,
            baseline_window=timedelta(hours=1),
            max_ratio=2.0,
        )
        assert healthy.status == "passed", healthy.output
        assert healthy.details["value"] == 0.02
        assert abs(healthy.details["baseline"] - 0.015) < 1e-9

        prom.set("error_ratio", current=0.04, baseline=0.01)  # under threshold but 4x baseline
        spiking = executors.metric_check(
            prom.url,
            "error_ratio",
            op="<",
            threshold=0.05,
            now=NOW,
            baseline_window=timedelta(hours=1),
            max_ratio=2.0,
        )
        assert spiking.status == "failed"
        assert "4.00x the baseline" in spiking.output

        prom.set("error_ratio", current=0.2)
        over = executors.metric_check(prom.url, "error_ratio", op="<", threshold=0.05, now=NOW)
        assert over.status == "failed"
        assert "not < 0.05" in over.output
        paths = {path for path, _ in prom.queries}
        assert paths == {"/api/v1/query", "/api/v1/query_range"}
        instant = next(p for path, p in prom.queries if path == "/api/v1/query")
        assert float(instant["time"]) == NOW.timestamp()


def test_metric_without_data_is_an_error() -> None:
    with fake_prometheus() as prom:
        result = executors.metric_check(prom.url, "absent", op="<", threshold=1, now=NOW)
    assert result.status == "error"
    assert "no data" in result.output


def test_http_output_hides_credentials_and_query() -> None:
    with http_receiver() as receiver:
        url = f"http://user:hunter2@127.0.0.1:{receiver.port}/health?token=abc123"
        result = executors.http_check(url)
    assert result.status == "passed"
    assert "hunter2" not in result.output and "abc123" not in result.output
    assert result.details["url"] == f"http://127.0.0.1:{receiver.port}/health?..."
