"""Human-readable reports: a plain-text console report and a Markdown one."""

from __future__ import annotations

import datetime
import os
import platform
from importlib import metadata
from pathlib import Path

from benchmarks import scheduling
from benchmarks.results import ScenarioResult
from benchmarks.scenarios import Scenario

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "burst": (
        ("items/s", "items_per_s"),
        ("p50 ms", "p50_ms"),
        ("p99 ms", "p99_ms"),
        ("CPU us/item", "cpu_us_per_item"),
        ("peak RSS MiB", "peak_rss_mib"),
        ("pools created", "pools_created"),
        ("other CPU %", "background_cpu_pct"),
    ),
    "memory": (
        ("bytes/item", "bytes_per_item"),
        ("enqueue items/s", "enqueue_items_per_s"),
        ("stop ms", "stop_ms"),
        ("peak RSS MiB", "peak_rss_mib"),
        ("pending", "pending"),
        ("cancelled", "cancelled"),
    ),
}
COLUMNS["trickle"] = COLUMNS["burst"]
COLUMNS["bulk"] = (
    ("items/s", "items_per_s"),
    ("CPU us/item", "cpu_us_per_item"),
    ("enqueue us/item", "enqueue_us_per_item"),
    ("batches", "batches"),
    ("peak RSS MiB", "peak_rss_mib"),
    ("other CPU %", "background_cpu_pct"),
)
COLUMNS["bulk-memory"] = (
    ("items/s", "items_per_s"),
    ("RSS at n/10 MiB", "rss_first_tenth_mib"),
    ("RSS at n/2 MiB", "rss_half_mib"),
    ("RSS at end MiB", "rss_end_mib"),
    ("growth MiB", "rss_growth_mib"),
    ("Python blocks growth", "blocks_growth"),
    ("peak RSS MiB", "peak_rss_mib"),
)
COLUMNS["cli"] = (
    ("lines/s", "items_per_s"),
    ("lines/s inside", "internal_items_per_s"),
    ("read us", "read_us_per_line"),
    ("json us", "json_us_per_line"),
    ("write us", "write_us_per_line"),
    ("peak RSS MiB", "peak_rss_mib"),
)
BACKGROUND_WARN_PCT = 10.0
COUNT_KEYS = frozenset(
    {"pools_created", "pending", "cancelled", "batches", "blocks_growth", "n", "b_n", "high_n"}
)


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(gristmill_module: str) -> dict[str, str]:
    """Describe the machine and software the benchmark ran on."""
    gristmill = _version(gristmill_module)
    if gristmill_module != "gristmill":
        gristmill = f"{gristmill_module} {gristmill} standing in"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "gristmill": gristmill,
        "leasepool": _version("leasepool"),
        "to_thread workers": str(min(32, (os.cpu_count() or 1) + 4)),
    }


def fmt(value: float | None, *, whole: bool = False) -> str:
    """Format a metric with about three significant digits (``whole``: no decimals)."""
    if value is None:
        return "-"
    size = abs(value)
    if whole or size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _columns(scenario: Scenario) -> tuple[tuple[str, str], ...]:
    return scenario.columns or COLUMNS[scenario.kind]


def _rows(result: ScenarioResult) -> list[list[str]]:
    """Return one row per system: name, metrics (or status), runs."""
    columns = _columns(result.scenario)
    rows = []
    for name, cell in result.cells.items():
        ok = len(cell.ok_metrics)
        if ok:
            median = cell.median()
            values = [fmt(median.get(key), whole=key in COUNT_KEYS) for _, key in columns]
        else:
            values = [cell.status] + [""] * (len(columns) - 1)
        runs = f"{ok}/{len(cell.runs)}"
        if cell.status not in ("ok", "unavailable") and ok:
            runs += f" ({cell.status})"
        if cell.leftover_processes:
            runs += " leaked processes"
        rows.append([name, *values, runs])
    return rows


def _warnings(result: ScenarioResult) -> list[str]:
    """Flag runs during which other processes used a noticeable share of the CPUs."""
    shares = [
        metrics.get("background_cpu_pct", 0.0)
        for cell in result.cells.values()
        for metrics in cell.ok_metrics
    ]
    worst = max(shares, default=0.0)
    if worst < BACKGROUND_WARN_PCT:
        return []
    return [
        f"warning: other processes used up to {worst:.0f}% of the CPUs during a run; "
        "treat these figures as suspect"
    ]


def _headers(scenario: Scenario) -> list[str]:
    first = "variant" if scenario.kind == "scheduling" else "system"
    return [first, *(title for title, _ in _columns(scenario)), "runs"]


def _ratio_lines(result: ScenarioResult) -> list[str]:
    if result.scenario.kind == "scheduling":
        return scheduling.bars(result.scenario.name, result.medians())
    lines = []
    for pair, ratios in result.ratios().items():
        parts = ", ".join(f"{key} x{value:.3g}" for key, value in ratios.items())
        lines.append(f"{pair}: {parts}")
    return lines


def _text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    return [line(headers), *(line(r) for r in rows)]


def format_text(results: list[ScenarioResult], machine: dict[str, str], quick: bool) -> str:
    """Return the console report: per scenario, ideal, medians, ratios, failures."""
    out = ["machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()), ""]
    for result in results:
        scenario = result.scenario
        out.append(f"== {scenario.name}: {scenario.describe(quick)}")
        out.append(f"ideal: {result.ideal().text}")
        if scenario.note and scenario.kind != "scheduling":  # its description is the note
            out.append(f"note: {scenario.note}")
        out.extend(_text_table(_headers(scenario), _rows(result)))
        out.extend(f"  {line}" for line in _ratio_lines(result) + _warnings(result))
        for name, cell in result.cells.items():
            if cell.status != "ok" and cell.message:
                out.append(f"  {name} {cell.status}: {cell.message}")
        out.append("")
    return "\n".join(out)


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    aligned = ["---"] + ["---:"] * (len(headers) - 1)
    return [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(aligned) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def format_markdown(results: list[ScenarioResult], machine: dict[str, str], quick: bool) -> str:
    """Return a Markdown report suitable for BENCHMARKS.md."""
    out = ["## Machine", ""]
    out.extend(f"- **{key}**: {value}" for key, value in machine.items())
    out.append("")
    for result in results:
        scenario = result.scenario
        out.append(f"### {scenario.name}")
        out.append("")
        if scenario.kind == "scheduling":  # its description is the note; no ideal
            out.append(f"{scenario.describe(quick)}.")
        else:
            out.append(f"{scenario.describe(quick)}. Ideal: {result.ideal().text}.")
        if scenario.note and scenario.kind != "scheduling":
            out.append(f"Note: {scenario.note}.")
        out.append("")
        out.extend(_md_table(_headers(scenario), _rows(result)))
        ratios = _ratio_lines(result) + _warnings(result)
        if ratios:
            out.append("")
            out.extend(f"- {line}" for line in ratios)
        out.append("")
    return "\n".join(out)
