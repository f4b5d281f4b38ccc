#!/usr/bin/env python3
"""Compares airlock's package inventory with Syft's and Trivy's.

Used by bench/inventory.sh. Stdlib only. Every tool's output is normalised
to (ecosystem, name, version) with airlock's osv.dev ecosystem names:

- airlock: `airlock scan --format json` (`packages[]`, ecosystem as is);
- Syft: `syft -o syft-json` (`artifacts[].type`: deb, python, npm,
  rust-crate, go-module, ...; the distro from `distro`);
- Trivy: `trivy --format cyclonedx` (`components[].purl` type: deb, pypi,
  npm, cargo, golang, ...; the distro from the operating-system component).

Normalisation applied to every tool alike: Python names per PEP 503; Debian
versions carry their epoch (`1:1.2.13.dfsg-1`; Trivy puts it in the purl's
`epoch` qualifier); Go versions lose a leading `v` (Go's `stdlib` is `go1.19.8`
in Syft, `v1.19.8` in Trivy, `1.19.8` in airlock). Packages of types airlock
does not model as ecosystems (Syft's `binary`, ...) are counted under
`(other:TYPE)` and never count against airlock.

Several files per peer may be given (their union is used): e.g. an image
scan plus a scan with the lockfile catalogers.

Prints, per ecosystem: how many packages each tool found, how many both
peers found, how many of those airlock found (target: all), then every
package not found by all three tools, with who found it. `--summary FILE`
writes the same as JSON. Exit status 0 unless an input cannot be read;
`--strict` exits 3 when airlock misses a package both peers found.
`--self-check REPORT REPORT` instead checks that two airlock reports (JSON
or CycloneDX, the latter read by purl like Trivy's) list the same packages,
e.g. JSON vs CycloneDX, OCI layout vs docker-archive (exit 4 if not).
"""

import argparse
import json
import re
import sys
import urllib.parse
from collections import defaultdict

SYFT_TYPES = {
    "python": "PyPI",
    "npm": "npm",
    "rust-crate": "crates.io",
    "go-module": "Go",
    "java-archive": "Maven",
    "jenkins-plugin": "Maven",
    "gem": "RubyGems",
    "php-composer": "Packagist",
    "dotnet": "NuGet",
}

PURL_TYPES = {
    "pypi": "PyPI",
    "npm": "npm",
    "cargo": "crates.io",
    "golang": "Go",
    "maven": "Maven",
    "gem": "RubyGems",
    "composer": "Packagist",
    "nuget": "NuGet",
}

OS_NAMES = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "alpine": "Alpine",
}


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def os_ecosystem(distro_id, version):
    """`debian`, `12.11` → `Debian:12` (major version, as airlock names it)."""
    family = OS_NAMES.get((distro_id or "").lower(), distro_id or "os")
    if family == "Debian" and version:
        return f"Debian:{version.split('.')[0]}"
    if family == "Alpine" and version:
        return "Alpine:v" + ".".join(version.split(".")[:2])
    return f"{family}:{version}" if version else family


def normalise(ecosystem, name, version):
    if ecosystem == "PyPI":
        name = pep503(name)
    if ecosystem == "Go" and version.startswith("v"):
        version = version[1:]
    if ecosystem == "Go" and name == "stdlib" and version.startswith("go"):
        version = version[2:]
    return (ecosystem, name, version)


def parse_purl(purl):
    """(type, namespace, name, version, qualifiers) of a purl, leniently."""
    if not purl or not purl.startswith("pkg:"):
        return None
    rest = purl[4:]
    qualifiers = {}
    if "#" in rest:
        rest = rest.split("#", 1)[0]
    if "?" in rest:
        rest, query = rest.split("?", 1)
        for pair in query.split("&"):
            if "=" in pair:
                key, value = pair.split("=", 1)
                qualifiers[key] = urllib.parse.unquote(value)
    version = None
    if "@" in rest:
        rest, version = rest.rsplit("@", 1)
        version = urllib.parse.unquote(version)
    parts = rest.split("/")
    purl_type = parts[0].lower()
    name = urllib.parse.unquote(parts[-1])
    namespace = "/".join(urllib.parse.unquote(p) for p in parts[1:-1]) or None
    return purl_type, namespace, name, version, qualifiers


def load_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def airlock_packages(path):
    document = load_json(path)
    reports = document.get("reports", [document])
    found = set()
    for report in reports:
        for package in report.get("packages", []):
            found.add(normalise(package["ecosystem"], package["name"], package["version"]))
    return found


def syft_packages(path):
    document = load_json(path)
    distro = document.get("distro") or {}
    os_eco = os_ecosystem(distro.get("id"), distro.get("versionID") or distro.get("version"))
    found = set()
    for artifact in document.get("artifacts", []):
        kind = artifact.get("type", "")
        if kind == "deb":
            ecosystem = os_eco
        else:
            ecosystem = SYFT_TYPES.get(kind, f"(other:{kind})")
        name = artifact["name"]
        parsed = parse_purl(artifact.get("purl"))
        if ecosystem == "Maven" and parsed and parsed[1]:
            # Syft names a jar by its artifactId; osv.dev (and airlock) by groupId:artifactId.
            name = f"{parsed[1]}:{parsed[2]}"
        found.add(normalise(ecosystem, name, artifact.get("version", "")))
    return found


def cyclonedx_packages(path):
    """Packages of a CycloneDX JSON document, by purl (Trivy's, or airlock's own)."""
    document = load_json(path)
    components = list(document.get("components", []))
    # Nested components (Trivy nests a layer's or a file's packages).
    index = 0
    while index < len(components):
        components.extend(components[index].get("components", []) or [])
        index += 1
    os_eco = None
    for component in components:
        if component.get("type") == "operating-system":
            os_eco = os_ecosystem(component.get("name"), component.get("version"))
    found = set()
    for component in components:
        parsed = parse_purl(component.get("purl"))
        if parsed is None:
            continue
        purl_type, namespace, name, version, qualifiers = parsed
        version = component.get("version") or version or ""
        if purl_type == "deb":
            ecosystem = os_eco or os_ecosystem(namespace, qualifiers.get("distro", "").split("-")[-1])
            epoch = qualifiers.get("epoch")
            if epoch and epoch != "0" and ":" not in version:
                version = f"{epoch}:{version}"
        else:
            ecosystem = PURL_TYPES.get(purl_type, f"(other:{purl_type})")
            if purl_type in ("npm", "golang", "maven", "composer") and namespace:
                separator = ":" if purl_type == "maven" else "/"
                if purl_type == "golang":
                    name = f"{namespace}/{name}"
                elif purl_type == "maven":
                    name = f"{namespace}:{name}"
                else:
                    name = f"{namespace}{separator}{name}"
            elif purl_type == "golang" or purl_type == "npm":
                name = component.get("name", name)
        found.add(normalise(ecosystem, name, version))
    return found


def airlock_any(path):
    """An airlock report in either of its machine formats: JSON or CycloneDX."""
    if "bomFormat" in load_json(path):
        return cyclonedx_packages(path)
    return airlock_packages(path)


def self_check(first, second):
    """Two airlock reports (JSON or CycloneDX, any source) must list the same packages."""
    packages_first, packages_second = airlock_any(first), airlock_any(second)
    if packages_first == packages_second:
        print(f"airlock self-check: {first} and {second} agree on {len(packages_first)} packages")
        return 0
    print(f"airlock self-check: {first} and {second} DISAGREE")
    for package in sorted(packages_first - packages_second):
        print(f"  only in the first:  {package}")
    for package in sorted(packages_second - packages_first):
        print(f"  only in the second: {package}")
    return 4


def union(paths, loader):
    found = set()
    for path in paths:
        found |= loader(path)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--airlock", action="append", help="airlock scan --format json")
    parser.add_argument("--syft", action="append", help="syft -o syft-json")
    parser.add_argument("--trivy", action="append", help="trivy --format cyclonedx")
    parser.add_argument("--self-check", nargs=2, metavar=("REPORT", "REPORT"),
                        help="only check that two airlock reports (JSON or CycloneDX) list the same packages")
    parser.add_argument("--summary", help="write the comparison as JSON here")
    parser.add_argument("--strict", action="store_true", help="exit 3 when airlock misses a package both peers found")
    args = parser.parse_args()
    if args.self_check:
        return self_check(*args.self_check)
    if not (args.airlock and args.syft and args.trivy):
        parser.error("--airlock, --syft and --trivy are required")

    tools = {
        "airlock": union(args.airlock, airlock_packages),
        "syft": union(args.syft, syft_packages),
        "trivy": union(args.trivy, cyclonedx_packages),
    }
    by_ecosystem = defaultdict(lambda: {tool: set() for tool in tools})
    for tool, packages in tools.items():
        for package in packages:
            by_ecosystem[package[0]][tool].add(package)

    header = f"{'ecosystem':<22}{'airlock':>8}{'syft':>8}{'trivy':>8}{'both peers':>12}{'airlock of both':>17}"
    print(header)
    print("-" * len(header))
    summary = {"ecosystems": {}, "differences": []}
    missed_total = 0
    for ecosystem in sorted(by_ecosystem, key=lambda e: (e.startswith("("), e)):
        found = by_ecosystem[ecosystem]
        both = found["syft"] & found["trivy"]
        airlock_of_both = both & found["airlock"]
        missed_total += len(both) - len(airlock_of_both)
        row = {
            "airlock": len(found["airlock"]),
            "syft": len(found["syft"]),
            "trivy": len(found["trivy"]),
            "both_peers": len(both),
            "airlock_of_both": len(airlock_of_both),
        }
        summary["ecosystems"][ecosystem] = row
        print(f"{ecosystem:<22}{row['airlock']:>8}{row['syft']:>8}{row['trivy']:>8}"
              f"{row['both_peers']:>12}{row['airlock_of_both']:>11}/{row['both_peers']:<5}")
    total_both = sum(r["both_peers"] for r in summary["ecosystems"].values())
    total_airlock_of_both = sum(r["airlock_of_both"] for r in summary["ecosystems"].values())
    print("-" * len(header))
    verdict = "met" if missed_total == 0 else f"MISSED ({missed_total} packages)"
    print(f"airlock found {total_airlock_of_both} of the {total_both} packages both peers found: target {verdict}")

    everything = set().union(*tools.values())
    differences = []
    for package in sorted(everything):
        who = [tool for tool in tools if package in tools[tool]]
        if len(who) < len(tools):
            differences.append((package, who))
    print()
    print(f"differences ({len(differences)} packages not found by all three; A=airlock S=syft T=trivy):")
    for (ecosystem, name, version), who in differences:
        flags = "".join(letter if tool in who else "." for letter, tool in zip("AST", tools))
        print(f"  {flags}  {ecosystem:<14} {name} {version}")
        summary["differences"].append({
            "ecosystem": ecosystem, "name": name, "version": version, "found_by": who,
        })
    summary["airlock_missed_of_both"] = missed_total
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2, sort_keys=True)
    return 3 if args.strict and missed_total else 0


if __name__ == "__main__":
    sys.exit(main())
