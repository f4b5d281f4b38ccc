#!/usr/bin/env python3
"""Independent reference matcher for bench/vulns.sh.

Reads airlock's JSON scan report (for the inventory it found and the
findings it reported) and the OSV zips, re-matches every PyPI, crates.io and
Go package on its own, and compares the two per ecosystem.

- PyPI: versions are parsed and ordered with `packaging` (PEP 440); names are
  PEP 503-normalised; `versions` lists are compared by PEP 440 equality.
- crates.io, Go and SEMVER ranges: a small SemVer 2.0 ordering (numeric
  core, then pre-release identifiers); Go versions lose their `v`. Go
  pseudo-versions are valid SemVer pre-releases, so they are ordered as such
  (not skipped).
- OSV range semantics: events sorted by version, `introduced` inclusive,
  `fixed` exclusive, `last_affected` inclusive, `limit` exclusive; withdrawn
  records never match; GIT ranges are ignored.
- Fixed versions: for findings on both sides, the fix versions above the
  installed one are compared too (reported, not counted as a difference in
  which vulnerabilities match).
- Aliases: hits on one package whose id/aliases overlap are merged (union-
  find), as airlock does; an airlock finding and a reference group are "the
  same" when their id+alias sets intersect.

Usage: reference.py AIRLOCK_JSON OSV_DATA_DIR
"""

import json
import re
import sys
import zipfile
from collections import defaultdict

from packaging.version import InvalidVersion, Version

ECOSYSTEMS = ["PyPI", "crates.io", "Go"]
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class Incomparable(Exception):
    pass


def semver_key(text):
    match = SEMVER.match(text)
    if not match:
        raise Incomparable(f"not semver: {text!r}")
    core = tuple(int(part) for part in match.group(1, 2, 3))
    pre = match.group(4)
    if pre is None:
        return core + ((1,),)
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return core + ((0,) + ids,)


def version_key(ecosystem, kind, version):
    if ecosystem == "PyPI" and kind == "ECOSYSTEM":
        try:
            return Version(version)
        except InvalidVersion as error:
            raise Incomparable(str(error)) from error
    if ecosystem == "Go" or kind == "SEMVER":
        version = version[1:] if version.startswith("v") else version
    return semver_key(version)


def lowest(ecosystem, kind):
    return Version("0") if ecosystem == "PyPI" and kind == "ECOSYSTEM" else (0, 0, 0, (0,))


def in_range(ecosystem, kind, installed, events, notes):
    """Whether `installed` is in the range, plus the fixed versions seen."""
    try:
        current = version_key(ecosystem, kind, installed)
        keyed = []
        for event in events:
            (name, value), = event.items()
            key = lowest(ecosystem, kind) if name == "introduced" and value == "0" else version_key(ecosystem, kind, value)
            keyed.append((key, {"introduced": 0, "last_affected": 1, "fixed": 1, "limit": 1}[name], name, value))
    except Incomparable as error:
        notes.append(f"range not evaluated: {error}")
        return False, []
    keyed.sort(key=lambda item: (item[0], item[1]))
    affected = False
    fixed = []
    for key, _, name, value in keyed:
        if name == "introduced" and current >= key:
            affected = True
        elif name == "fixed":
            if current >= key:
                affected = False
            elif affected and value not in fixed:
                fixed.append(value)
        elif name == "last_affected" and current > key:
            affected = False
        elif name == "limit" and current >= key:
            affected = False
    if not affected:
        fixed = []
    return affected, fixed


def listed(ecosystem, installed, versions):
    if ecosystem == "PyPI":
        try:
            want = Version(installed)
        except InvalidVersion:
            return installed in versions
        for version in versions:
            try:
                if Version(version) == want:
                    return True
            except InvalidVersion:
                continue
        return False
    return installed in versions


def load(data_dir):
    """records[(ecosystem, lookup name)] = [record, ...]"""
    index = defaultdict(list)
    for ecosystem in ECOSYSTEMS:
        with zipfile.ZipFile(f"{data_dir}/{ecosystem}/all.zip") as archive:
            for member in archive.namelist():
                record = json.loads(archive.read(member))
                names = set()
                for affected in record.get("affected", []):
                    package = affected.get("package") or {}
                    if package.get("ecosystem") != ecosystem:
                        continue
                    name = package.get("name", "")
                    names.add(pep503(name) if ecosystem == "PyPI" else name)
                for name in names:
                    index[(ecosystem, name)].append(record)
    return index


def reference_hits(package, index):
    ecosystem, name, version = package["ecosystem"], package["name"], package["version"]
    key = pep503(name) if ecosystem == "PyPI" else name
    hits, notes = [], []
    for record in index.get((ecosystem, key), []):
        if record.get("withdrawn"):
            continue
        affected_any, fixed = False, []
        how = []
        for affected in record.get("affected", []):
            pkg = affected.get("package") or {}
            if pkg.get("ecosystem") != ecosystem:
                continue
            if (pep503(pkg.get("name", "")) if ecosystem == "PyPI" else pkg.get("name")) != key:
                continue
            if listed(ecosystem, version, affected.get("versions", [])):
                affected_any = True
                how.append("versions list")
            for rng in affected.get("ranges", []):
                if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                    continue
                yes, range_fixed = in_range(ecosystem, rng["type"], version, rng.get("events", []), notes)
                if yes:
                    affected_any = True
                    fixed += range_fixed
                    how.append(f"{rng['type']} range")
        if affected_any:
            hits.append({"id": record["id"], "ids": {record["id"], *record.get("aliases", [])},
                         "fixed": set(fixed), "how": how})
    return merge(hits), notes


def merge(hits):
    groups = []
    for hit in hits:
        joined = [g for g in groups if g["ids"] & hit["ids"]]
        merged = {"ids": set(hit["ids"]), "records": [hit["id"]], "how": list(hit["how"]),
                  "fixed": set(hit["fixed"])}
        for group in joined:
            groups.remove(group)
            merged["ids"] |= group["ids"]
            merged["fixed"] |= group["fixed"]
            merged["records"] += group["records"]
            merged["how"] += group["how"]
        groups.append(merged)
    return groups


def main():
    report_path, data_dir = sys.argv[1], sys.argv[2]
    with open(report_path) as handle:
        report = json.load(handle)
    reports = report["reports"] if "reports" in report else [report]
    index = load(data_dir)
    exit_status = 0
    for one in reports:
        packages = [p for p in one["packages"] if p["ecosystem"] in ECOSYSTEMS]
        airlock = defaultdict(list)
        for finding in one.get("findings", []):
            pkg = finding["package"]
            airlock[(pkg["ecosystem"], pkg["name"], pkg["version"])].append(
                {"ids": {finding["id"], *finding.get("aliases", [])}, "id": finding["id"],
                 "fixed": set(finding.get("fixed_versions", []))})
        print(f"{'ecosystem':<10} {'packages':>8} {'airlock':>8} {'reference':>9} {'both':>5} {'only-airlock':>12} {'only-reference':>14} {'fixed-differ':>12}")
        details = []
        for ecosystem in ECOSYSTEMS:
            counts = dict(packages=0, airlock=0, reference=0, both=0, only_airlock=0, only_reference=0,
                          fixed_differ=0)
            for package in (p for p in packages if p["ecosystem"] == ecosystem):
                counts["packages"] += 1
                label = f"{ecosystem} {package['name']} {package['version']}"
                mine = airlock.get((ecosystem, package["name"], package["version"]), [])
                theirs, notes = reference_hits(package, index)
                for note in sorted(set(notes)):
                    details.append(f"note  {label}: {note}")
                counts["airlock"] += len(mine)
                counts["reference"] += len(theirs)
                matched = set()
                for finding in mine:
                    partner = [i for i, g in enumerate(theirs) if g["ids"] & finding["ids"]]
                    if partner:
                        counts["both"] += 1
                        matched.update(partner)
                        expected = set().union(*(theirs[i]["fixed"] for i in partner))
                        if expected != finding["fixed"]:
                            counts["fixed_differ"] += 1
                            details.append(f"fixed-versions  {label}: {finding['id']} airlock {sorted(finding['fixed'])} reference {sorted(expected)}")
                    else:
                        counts["only_airlock"] += 1
                        details.append(f"only-airlock    {label}: {finding['id']} (aliases {sorted(finding['ids'] - {finding['id']})})")
                for i, group in enumerate(theirs):
                    if i not in matched:
                        counts["only_reference"] += 1
                        details.append(f"only-reference  {label}: {sorted(group['ids'])} records {sorted(group['records'])} via {sorted(set(group['how']))}")
                # Several airlock findings inside one reference group (or the
                # reverse) means the alias merging differs.
                for i, group in enumerate(theirs):
                    inside = [f["id"] for f in mine if f["ids"] & group["ids"]]
                    if len(inside) > 1:
                        details.append(f"split           {label}: airlock reports {inside} for one reference group {sorted(group['records'])}")
            print(f"{ecosystem:<10} {counts['packages']:>8} {counts['airlock']:>8} {counts['reference']:>9} {counts['both']:>5} {counts['only_airlock']:>12} {counts['only_reference']:>14} {counts['fixed_differ']:>12}")
            if counts["only_airlock"] or counts["only_reference"]:
                exit_status = 1
        for line in details:
            print(line)
    sys.exit(exit_status)


if __name__ == "__main__":
    main()
