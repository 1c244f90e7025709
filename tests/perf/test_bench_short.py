"""The benchmarks in their short form: they must run and print sane JSON.

Shapes and sanity only (counts, non-negative times, ratios in range), never
timing thresholds: the figures themselves are for the README, from the long
runs on a quiet machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PERF = Path(__file__).resolve().parent


def run_short(script: str, timeout_s: float = 90) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(PERF / script), "--short"], cwd=PERF.parents[1],
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def positive(x: Any) -> bool:
    return isinstance(x, int | float) and x > 0


@pytest.mark.timeout(120)
def test_idle_benchmark() -> None:
    r = run_short("bench_idle.py")
    assert r["benchmark"] == "idle"
    assert 0 < r["start_to_ready_s"] < 30 and positive(r["rss_at_start_mib"])
    assert 0 <= r["idle_cpu_percent_of_core"] < 100
    assert r["idle_cpu_percent_by_thread"] is not None
    p = r["profile"]
    assert abs(p["controller_share"] + p["simulators_share"] + p["event_loop_share"] - 1) < 0.01
    assert any(k.startswith("drivers/cctalk") for k in p["percent_of_core_by_file"])


@pytest.mark.timeout(120)
def test_api_benchmark() -> None:
    r = run_short("bench_api.py")
    for case in ("get_product", "get_user"):
        assert positive(r[case]["machine_per_s"]) and positive(r[case]["bare_per_s"])
        assert 0 < r[case]["ratio"] < 10 and r[case]["errors"] == 0
    m = r["memory"]
    assert len(m["rss_mib_every_tenth"]) == 11 and all(map(positive, m["rss_mib_every_tenth"]))
    assert set(m["statuses"]) == {"200", "404"}  # the unknown product, and nothing else
    assert sum(m["statuses"].values()) == m["requests"]


@pytest.mark.timeout(120)
def test_latency_benchmark() -> None:
    r = run_short("bench_latency.py")
    assert r["background_errors"] == 0 and positive(r["background_answered_per_s"])
    def sane(summary: dict[str, Any]) -> bool:
        return bool(summary["n"] >= 1 and 0 < summary["p50_ms"] <= summary["p99_ms"]
                    <= summary["max_ms"] < 10_000)

    for what in ("key_to_lcd", "coin_to_credit"):
        assert sane(r[what]["wall"]) and sane(r[what]["controller_cpu_raw"])
        net, raw = r[what]["controller_cpu_net"], r[what]["controller_cpu_raw"]
        assert net["n"] == raw["n"] and net["p50_ms"] <= raw["p50_ms"]
    assert sane(r["vend_cpu"]) and sane(r["payout_cpu"])
    assert 0 < r["vend_cpu"]["controller_share"] <= 1


@pytest.mark.timeout(120)
def test_store_benchmark() -> None:
    r = run_short("bench_store.py")
    for setting in ("synchronous_full", "synchronous_off"):
        assert positive(r[setting]["coin_credit_ms"])
        assert positive(r[setting]["vend_reservation_ms"])
    assert positive(r["journal_growth"]["kib_per_10000_sales"])
    kept = r["journal_growth_with_retention"]
    assert kept["backups"] == 10 and kept["events_pruned"] >= 0


@pytest.mark.timeout(120)
def test_live_pages_benchmark() -> None:
    r = run_short("bench_live.py")["live_page_update_latency"]
    for case in ("lcd_change", "stock_change", "coin_credit", "coin_lcd"):
        assert r[case]["n"] > 0 and 0 <= r[case]["p50_ms"] <= r[case]["max_ms"]


@pytest.mark.timeout(120)
def test_sales_benchmark() -> None:
    r = run_short("bench_sales.py")
    assert r["benchmark"] == "sales" and r["sales"] > 365 * 10
    for case in ("sales_days_7", "sales_days_30", "sales_days_90", "picklist"):
        f = r[case]
        assert 0 < f["min_ms"] <= f["median_ms"] <= f["p95_ms"] <= f["max_ms"]
        assert f["cpu_median_ms"] >= 0


@pytest.mark.timeout(120)
def test_card_benchmark() -> None:
    r = run_short("bench_card.py")
    assert r["benchmark"] == "card" and r["budget_p99_ms"] == 50
    for case in ("selection_key_to_vend_request", "selection_to_vend_request"):
        assert r[case]["n"] == 4 and 0 < r[case]["p50_ms"] <= r[case]["p99_ms"]
    assert positive(r["cpu_per_card_vend_ms"]["raw_median"])
    assert positive(r["cpu_per_coin_vend_ms"]["raw_median"])
