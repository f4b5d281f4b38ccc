#!/usr/bin/env python3
"""Oracle: packaging.version.Version ordering; prints -1/0/1 or E per pair."""
import sys

from packaging.version import InvalidVersion, Version

for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        print("E")
        continue
    print((va > vb) - (va < vb))
