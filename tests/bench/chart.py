#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Draws what scripts/bench measured: reads the figures the benchmarks appended to a JSON-lines
# file (bench_kit.h `record`, forward_veth.py) and writes a PNG with one panel per figure: the
# figure, the reference measured in the same run beside it, and issue 9's target as a line.
# Also prints them as one markdown table (figure, value, reference, ratio, target, met).
# Usage: tests/bench/chart.py FIGURES.jsonl OUT.png

import json
import math
import sys

import matplotlib

matplotlib.use("Agg")  # no display: a file
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"chart: {path}:{n}: {e.msg}")
    if not rows:
        sys.exit(f"chart: {path}: no figures")
    return rows


def number(v):
    if v is None:
        return ""
    if abs(v) >= 10000:
        return f"{v:,.0f}"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def met(r):
    t = r.get("target")
    if t is None:
        return ""
    ok = r["value"] <= t if r.get("target_is") == "at most" else r["value"] >= t
    return "yes" if ok else "no"


def table(rows):
    out = ["| bench | figure | value | unit | reference (same run) | ratio | target | met |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = r.get("reference")
        ratio = f"{r['value'] / ref:.2f}" if ref else ""
        ref_text = f"{number(ref)} ({r['reference_name']})" if ref is not None else ""
        target = f"{r['target_is']} {number(r['target'])}" if r.get("target") is not None else ""
        out.append(f"| {r['bench']} | {r['figure']} | {number(r['value'])} | {r['unit']} | "
                   f"{ref_text} | {ratio} | {target} | {met(r)} |")
    return "\n".join(out)


def draw(rows, path):
    cols = 3
    lines = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(5 * cols, 3.2 * lines), squeeze=False)
    for ax, r in zip(axes.flat, rows):
        names, values, colours = ["Qorgan"], [r["value"]], ["#1f5f9f"]
        if r.get("reference") is not None:
            names.append("reference")
            values.append(r["reference"])
            colours.append("#999999")
        ax.bar(names, values, color=colours)
        for i, v in enumerate(values):
            ax.text(i, v, number(v), ha="center", va="bottom", fontsize=8)
        if r.get("target") is not None:
            ax.axhline(r["target"], color="#c03030", linestyle="--", linewidth=1)
            ax.text(len(names) - 0.5, r["target"], f"target: {r['target_is']} {number(r['target'])}",
                    color="#c03030", ha="right", va="bottom", fontsize=7)
        title = r["figure"] if len(r["figure"]) < 60 else r["figure"][:57] + "..."
        ax.set_title(f"{r['bench']}: {title}", fontsize=8)
        ax.set_ylabel(r["unit"], fontsize=8)
        ax.tick_params(labelsize=7)
        if r.get("reference_name"):
            ax.set_xlabel(f"reference: {r['reference_name']}"[:80], fontsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py FIGURES.jsonl OUT.png")
    rows = load(sys.argv[1])
    draw(rows, sys.argv[2])
    print(table(rows))


if __name__ == "__main__":
    main()
