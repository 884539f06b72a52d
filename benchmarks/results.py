"""Aggregation of repeated runs: medians, ideals and ratios."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.scenarios import Ideal, Scenario, ideal_for

Metrics = dict[str, float]

# Ratios are reported for the first of these that has results ("subject").
SUBJECTS = ("gristmill", "leasepool")

RATIO_KEYS = {
    "burst": ("items_per_s", "p99_ms", "cpu_us_per_item", "peak_rss_mib"),
    "trickle": ("items_per_s", "p50_ms", "p99_ms", "cpu_us_per_item"),
    "memory": ("bytes_per_item", "enqueue_items_per_s", "peak_rss_mib"),
    "bulk": ("items_per_s", "cpu_us_per_item", "peak_rss_mib"),
    "bulk-memory": (),
    "cli": ("items_per_s",),
    "scheduling": (),
}


@dataclass
class Cell:
    """Every run of one system on one scenario.

    Each run is the JSON written by ``benchmarks.cell`` (``status``,
    ``metrics`` or ``message``), possibly with ``leftover_processes``.
    """

    system: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok_metrics(self) -> list[Metrics]:
        """Return the metrics of the successful runs."""
        return [run["metrics"] for run in self.runs if run["status"] == "ok"]

    @property
    def status(self) -> str:
        """Return the shared status of all runs (``ok``, ``timeout``...) or a tally."""
        counts = Counter(str(run["status"]) for run in self.runs)
        if len(counts) == 1:
            return next(iter(counts))
        return ", ".join(f"{count} {status}" for status, count in counts.items())

    @property
    def message(self) -> str:
        """Return the message of the first failed run, if any."""
        for run in self.runs:
            if run["status"] != "ok":
                return str(run.get("message", ""))
        return ""

    @property
    def leftover_processes(self) -> bool:
        """Return True if any run left processes behind that had to be killed."""
        return any(run.get("leftover_processes", False) for run in self.runs)

    def median(self) -> Metrics:
        """Return the per-metric median over the successful runs."""
        runs = self.ok_metrics
        keys = sorted({key for metrics in runs for key in metrics})
        return {key: statistics.median(m[key] for m in runs if key in m) for key in keys}


@dataclass
class ScenarioResult:
    """All cells of one scenario, in system order."""

    scenario: Scenario
    cells: dict[str, Cell]

    def medians(self) -> dict[str, Metrics]:
        """Return the median metrics of each system that has successful runs."""
        return {name: cell.median() for name, cell in self.cells.items() if cell.ok_metrics}

    def ideal(self) -> Ideal:
        """Return the ideal, using this run's serial rate where needed."""
        serial = self.medians().get("serial", {}).get("items_per_s")
        return ideal_for(self.scenario, serial)

    def subject(self) -> str | None:
        """Return the system the ratios are computed for."""
        medians = self.medians()
        if self.scenario.subject is not None:
            return self.scenario.subject if self.scenario.subject in medians else None
        return next((name for name in SUBJECTS if name in medians), None)

    def ratios(self) -> dict[str, Metrics]:
        """Return ``{"subject/other": {metric: subject / other}}`` including the ideal."""
        subject = self.subject()
        if subject is None:
            return {}
        medians = self.medians()
        mine = medians[subject]
        keys = RATIO_KEYS[self.scenario.kind]
        out: dict[str, Metrics] = {}
        ideal = self.ideal()
        vs_ideal: Metrics = {}
        if ideal.items_per_s is not None and "items_per_s" in mine:
            vs_ideal["items_per_s"] = mine["items_per_s"] / ideal.items_per_s
        if ideal.latency_ms is not None and "p99_ms" in mine:
            vs_ideal["p99_ms"] = mine["p99_ms"] / ideal.latency_ms
        if vs_ideal:
            out[f"{subject}/ideal"] = vs_ideal
        for other, theirs in medians.items():
            if other == subject:
                continue
            out[f"{subject}/{other}"] = {
                key: mine[key] / theirs[key] for key in keys if key in mine and theirs.get(key)
            }
        return out

    def to_json(self, quick: bool) -> dict[str, Any]:
        """Return a JSON-ready summary with the raw runs."""
        ideal = self.ideal()
        return {
            "description": self.scenario.describe(quick),
            "ideal": {
                "items_per_s": ideal.items_per_s,
                "latency_ms": ideal.latency_ms,
                "text": ideal.text,
            },
            "systems": {
                name: {
                    "status": cell.status,
                    "median": cell.median(),
                    "leftover_processes": cell.leftover_processes,
                    "runs": cell.runs,
                }
                for name, cell in self.cells.items()
            },
            "ratios": self.ratios(),
        }
