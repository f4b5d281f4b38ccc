#!/usr/bin/env python3
"""Generates version pairs (a<TAB>b per line) for one scheme from small,
collision-prone alphabets, with a fixed seed: usage gen.py SCHEME N SEED."""
import random
import sys

PIECES = {
    "pep440": dict(
        head=["0", "1", "1.0", "1.0.0", "2.1", "01", "v1.0", "1!1.0", "0!1.0", "1.01"],
        tail=["a1", "b2", "rc1", "c1", "alpha", "beta3", ".pre", "preview1", "-1", ".post1", "post", "-r2",
              ".rev3", ".dev0", "dev", ".dev5", "+local", "+1.abc", "+abc.1", "+0", "+a-b_c", "A1", ".POST2",
              "_3", "-dev", ".0", "+1", ""],
        max_tail=3),
    "maven": dict(
        head=["1", "1.0", "1.0.0", "2", "01", "1-0", "0"],
        tail=["-alpha", "-alpha-1", "alpha1", "-a1", "a", "-beta", "b2", "-m3", "-rc", "-cr", "RC1", "-SNAPSHOT",
              "-snapshot", "-ga", "-final", ".final", "-release", "-sp", "-sp1", "-abc", "x", ".x", "-1", ".1",
              "-0", ".0", "0", "-", ".", "-foo-1", "_1", "+1", "2", ""],
        max_tail=3),
    "rubygems": dict(
        head=["0", "1", "1.0", "1.0.0", "2.1", "01", "1.00"],
        tail=[".a", ".b", ".rc1", ".pre", ".0", ".1", "a", "b1", ".A", ".a.1", "-1", "-pre", "-rc.1", ".alpha.5",
              "-a.b", "", ".10"],
        max_tail=3),
    "packagist": dict(
        head=["1", "1.0", "1.0.0", "1.0.0.0", "v1.0", "2.1", "01", "10.4.13"],
        tail=["-alpha", "-alpha2", "-beta", "beta2", "-b", "-b5", "-RC1", "rc2", ".RC.15", "-patch1", "-pl2", "p3",
              "-stable", "-dev", ".dev", "dev", "-a", "a1", "-alpha3.1", "", ""],
        max_tail=2),
    "go": dict(
        head=["v0.0.0", "v1", "v1.2", "v1.2.3", "v1.10.0", "v01.2.3", "v2.0.0", "v1.2.03",
              "v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa"],
        tail=["-alpha", "-alpha.1", "-0", "-01", "-beta.2", "-rc.1", "+incompatible", "+meta", "-456-789",
              "-pre.0.20200101000000-abcdef123456", "-0.20200101000000-abcdef123456", "", ""],
        max_tail=2),
    "semver": dict(
        head=["0.0.0", "1.0.0", "1.2.3", "v1.2.3", "=1.2.3", "1.10.0", "01.2.3", "1.2"],
        tail=["-alpha", "-alpha.1", "-beta.2", "-beta.11", "-rc.1", "-0", "-01", "-1.a", "-a-b", "+build", "+b.1",
              "-x.7.z.92", ""],
        max_tail=2),
}


CHARS = {"maven": "0123456789..--abmrcspxg", "rubygems": "0123456789..-abpre"}


def version(rng, p, scheme=None):
    if scheme in CHARS and rng.random() < 0.5:
        # character soup: exercises separators and transitions
        return "".join(rng.choice(CHARS[scheme]) for _ in range(rng.randrange(1, 10)))
    v = rng.choice(p["head"])
    for _ in range(rng.randrange(p["max_tail"] + 1)):
        v += rng.choice(p["tail"])
    return v


def main():
    scheme, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    p = PIECES[scheme]
    pool = [version(rng, p, scheme) for _ in range(400)]
    for _ in range(n):
        a = rng.choice(pool)
        b = rng.choice(pool) if rng.random() < 0.5 else version(rng, p, scheme)
        print(f"{a}\t{b}")


if __name__ == "__main__":
    main()
