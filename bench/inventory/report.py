#!/usr/bin/env python3
"""Turns bench/inventory.sh's measurements into a Markdown results block.

Stdlib only. Reads the timings (TSV: tool, round, wall seconds, peak RSS in
KiB, CPU seconds), the comparer's summary JSON and a few facts about the run, prints the
block, and with `--readme FILE` replaces the text between the markers
`<!-- inventory:results:begin -->` and `<!-- inventory:results:end -->` in
that file (only there: the rest of the file, including other engineers'
sections, is left byte for byte as it was re-read just before writing).
"""

import argparse
import json
import os
import statistics
import sys
from collections import defaultdict

BEGIN = "<!-- inventory:results:begin -->"
END = "<!-- inventory:results:end -->"

LABELS = [
    ("floor", "floor: `gzip -dc` of the layer blobs to /dev/null"),
    ("airlock-cold", "airlock scan, `--no-cache`"),
    ("airlock-warm", "airlock scan, warm `--cache-dir`"),
    ("syft", "syft"),
    ("trivy", "trivy (empty scan cache each run)"),
]


def load_timings(path):
    walls, rss, cpu = defaultdict(list), defaultdict(list), defaultdict(list)
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.startswith("#"):
                continue
            tool, _round, wall, peak, cpu_seconds = line.rstrip("\n").split("\t")
            walls[tool].append(float(wall))
            rss[tool].append(int(peak))
            cpu[tool].append(float(cpu_seconds))
    return walls, rss, cpu


def verdict(ok):
    return "met" if ok else "**missed**"


def render(args):
    walls, rss, cpu = load_timings(args.timings)
    medians = {tool: statistics.median(values) for tool, values in walls.items()}
    summary = json.load(open(args.summary, encoding="utf-8"))
    facts = json.loads(args.facts) if args.facts else {}

    lines = []
    lines.append(f"Run of {facts.get('date', '?')} on {facts.get('machine', '?')}; "
                 f"{facts.get('runs', '?')} rounds, tools interleaved in each round; medians.")
    lines.append("")
    for key in ("image", "tools"):
        if key in facts:
            lines.append(f"- {facts[key]}")
    if "load" in facts:
        lines.append(f"- load average before the timings: {facts['load']}")
    lines.append("")
    lines.append("| ecosystem | airlock | syft | trivy | both peers | airlock of both |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for ecosystem, row in summary["ecosystems"].items():
        lines.append(f"| {ecosystem} | {row['airlock']} | {row['syft']} | {row['trivy']} | "
                     f"{row['both_peers']} | {row['airlock_of_both']}/{row['both_peers']} |")
    lines.append("")
    if summary["differences"]:
        lines.append("Packages not found by all three (explained below):")
        lines.append("")
        for diff in summary["differences"]:
            lines.append(f"- `{diff['ecosystem']}` {diff['name']} {diff['version']}: found by "
                         + ", ".join(diff["found_by"]))
        lines.append("")
    lines.append("| measurement | median wall (s) | each run (s) | median CPU (s) | peak RSS (MiB) |")
    lines.append("| --- | ---: | --- | ---: | ---: |")
    for tool, label in LABELS:
        if tool not in walls:
            continue
        runs = ", ".join(f"{w:.3f}" for w in walls[tool])
        peak = max(rss[tool]) / 1024
        lines.append(f"| {label} | {medians[tool]:.3f} | {runs} | "
                     f"{statistics.median(cpu[tool]):.2f} | {peak:.1f} |")
    lines.append("")
    cold, floor = medians.get("airlock-cold"), medians.get("floor")
    warm = medians.get("airlock-warm")
    if cold and floor:
        ratio = cold / floor
        lines.append(f"- airlock cold / floor: {ratio:.2f}× (target ≤ 1.5×: {verdict(ratio <= 1.5)})")
    for peer in ("syft", "trivy"):
        if cold and peer in medians:
            lines.append(f"- airlock cold vs {peer}: {medians[peer] / cold:.1f}× faster "
                         f"(target faster: {verdict(cold < medians[peer])})")
    if cold and warm:
        share = warm / cold
        lines.append(f"- warm / cold: {100 * share:.1f}% (target < 20%: {verdict(share < 0.2)})")
    if rss.get("airlock-cold"):
        peak = max(rss["airlock-cold"] + rss.get("airlock-warm", [])) / 1024
        lines.append(f"- airlock peak RSS: {peak:.1f} MiB (target < 150 MB: {verdict(peak * 1.048576 < 150)})")
    missed = summary.get("airlock_missed_of_both", 0)
    lines.append(f"- packages both peers found that airlock did not: {missed}")
    return "\n".join(lines) + "\n"


def update_readme(path, block):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"report.py: {path} has no {BEGIN} ... {END} block to replace")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{block}{END}{tail}"
    tmp = f"{path}.inventory.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(new)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timings", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--facts", help="JSON object: date, machine, runs, image, tools, load")
    parser.add_argument("--readme", help="replace the results block in this file")
    args = parser.parse_args()
    block = render(args)
    sys.stdout.write(block)
    if args.readme:
        update_readme(args.readme, block)


if __name__ == "__main__":
    main()
