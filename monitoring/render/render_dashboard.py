"""Draw the Grafana dashboard (grafana/dashboards/elt.json) from a running Prometheus, one PNG per row.

There is no Grafana package on the machines we build on, so this shows what the dashboard shows
without one: every panel of a row at its grid position, each query run over the last minutes
with the dashboard's variables set to "All". Time series are lines, stats their last value,
bar gauges bars. It is a picture for the README, not a Grafana: colours and units are simpler.

    python render_dashboard.py --prometheus http://127.0.0.1:9090 --minutes 20 --out ../dashboard
"""

import argparse
import json
import math
import re
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DASHBOARD = Path(__file__).resolve().parent.parent / "grafana" / "dashboards" / "elt.json"
GRID_COLUMNS = 24
INCH_PER_COLUMN = 0.75
INCH_PER_ROW = 0.42


def expand(expr: str, minutes: int) -> str:
    """The dashboard's variables as Grafana sets them with "All" selected."""
    return (
        expr.replace("$instance", ".*")
        .replace("$table", ".*")
        .replace("$__rate_interval", "1m")
        .replace("$__range", f"{minutes}m")
    )


def query(prometheus: str, expr: str, start: float, end: float, step: int, instant: bool) -> list[dict]:
    """The series of expr over the window, or at its end alone for an instant query (as Grafana sends it)."""
    if instant:
        path, params = "query", {"query": expr, "time": end}
    else:
        path, params = "query_range", {"query": expr, "start": start, "end": end, "step": step}
    with urllib.request.urlopen(f"{prometheus}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=30) as response:
        body = json.load(response)
    if body["status"] != "success":
        raise RuntimeError(f"{expr}: {body}")
    return [{"metric": r["metric"], "values": r.get("values") or [r["value"]]} for r in body["data"]["result"]]


def legend(template: str, labels: dict) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template or "") or json.dumps(labels)


def human(value: float, unit: str | None) -> str:
    if value is None or math.isnan(value):
        return "no data"
    if unit in ("bytes", "Bps"):
        per = "/s" if unit == "Bps" else ""
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(value) < 1024:
                return f"{value:.3g} {suffix}{per}"
            value /= 1024
    if unit == "s":
        return f"{value:.3g} s"
    if unit == "percentunit":
        return f"{value * 100:.0f} %"
    return f"{value:.3g}" + {"ops": " /s", "reqps": " req/s"}.get(unit or "", "")


def series(prometheus: str, panel: dict, window: tuple[float, float, int], minutes: int) -> list[tuple[str, list]]:
    """(legend, [(time, value)]) for every series of every query of the panel."""
    out = []
    for target in panel.get("targets", []):
        for result in query(prometheus, expand(target["expr"], minutes), *window, bool(target.get("instant"))):
            points = [(datetime.fromtimestamp(t, UTC), float(v)) for t, v in result["values"]]
            out.append((legend(target.get("legendFormat", ""), result["metric"]), points))
    return out


def no_data(ax) -> None:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")


def draw_panel(ax, panel: dict, data: list[tuple[str, list]], window: tuple[float, float, int]) -> None:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    ax.set_title(panel.get("title", ""), fontsize=9, loc="left")
    if panel["type"] == "timeseries":
        for name, points in data:
            ax.plot([t for t, _ in points], [v for _, v in points], linewidth=1, label=name)
        ax.tick_params(labelsize=7)
        # The whole window, as Grafana draws it, even where a series starts late.
        ax.set_xlim(datetime.fromtimestamp(window[0], UTC), datetime.fromtimestamp(window[1], UTC))
        ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%H:%M"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: human(v, unit)))
        if data:
            ax.legend(fontsize=6, loc="upper left", ncol=2, frameon=False)
        else:
            no_data(ax)
        return
    last = [(name, points[-1][1]) for name, points in data if points]
    ax.set_xticks([])
    ax.set_yticks([])
    if not last:
        no_data(ax)
    elif panel["type"] == "bargauge":
        # Grafana's bar gauge: one bar a series, its name on it and its value at the end.
        top = max([1.0] + [value for _, value in last]) * 1.15
        ax.barh(range(len(last)), [value for _, value in last], color="tab:green", alpha=0.6)
        ax.set_xlim(0, top)
        for i, (name, value) in enumerate(last):
            ax.text(top * 0.01, i, name, va="center", fontsize=7)
            ax.text(top * 0.99, i, human(value, unit), va="center", ha="right", fontsize=7)
    else:
        text_mode = panel.get("options", {}).get("textMode")
        lines = [name if text_mode == "name" else f"{name}: {human(value, unit)}" for name, value in last]
        ax.text(
            0.5,
            0.5,
            "\n".join(lines),
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=11,
        )


def rows(dashboard: dict) -> list[tuple[str, list[dict]]]:
    """The dashboard's rows, each with the panels below it until the next row."""
    out: list[tuple[str, list[dict]]] = []
    for panel in sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if panel["type"] == "row":
            out.append((panel["title"], []))
        elif out:
            out[-1][1].append(panel)
    return out


def render_row(prometheus: str, title: str, panels: list[dict], minutes: int, until: float | None, path: Path) -> None:
    top = min(p["gridPos"]["y"] for p in panels)
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) - top
    # One grid unit above the panels for the row's title; padding in inches, so that axis labels fit at any size.
    width_in, height_in = GRID_COLUMNS * INCH_PER_COLUMN, (height + 1) * INCH_PER_ROW
    pad_left, pad_right, pad_bottom, pad_top = 0.6, 0.15, 0.35, 0.3
    figure = plt.figure(figsize=(width_in, height_in))
    figure.suptitle(title, x=0.01, y=0.99, ha="left", va="top", fontsize=12, fontweight="bold")
    end = until or time.time()
    window = (end - minutes * 60, end, max(5, minutes * 60 // 240))
    for panel in panels:
        grid = panel["gridPos"]
        left = grid["x"] * INCH_PER_COLUMN + pad_left
        bottom = height_in - (grid["y"] - top + 1 + grid["h"]) * INCH_PER_ROW + pad_bottom
        ax = figure.add_axes(
            (
                left / width_in,
                bottom / height_in,
                (grid["w"] * INCH_PER_COLUMN - pad_left - pad_right) / width_in,
                (grid["h"] * INCH_PER_ROW - pad_bottom - pad_top) / height_in,
            )
        )
        draw_panel(ax, panel, series(prometheus, panel, window, minutes), window)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--minutes", type=int, default=20, help="how far back each panel looks")
    parser.add_argument("--until", type=float, help="end of the window, in Unix seconds (default: now)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "dashboard")
    args = parser.parse_args()
    dashboard = json.loads(DASHBOARD.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    for title, panels in rows(dashboard):
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        render_row(
            args.prometheus.rstrip("/"),
            title,
            panels,
            args.minutes,
            args.until,
            args.out / f"{slug}.png",
        )
        print(args.out / f"{slug}.png")


if __name__ == "__main__":
    main()
