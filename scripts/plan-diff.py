#!/usr/bin/env python3
"""plan-diff.py BEFORE AFTER: compare two plan-matrix.sh outputs field by field.

Every case must have the same exit code, the same stderr, and (for exit 0) the same plan
JSON in every field. Prints each difference with its JSON path; the summary counts cases
and fields compared. Differences under a path given with --expect PATH=OLD->NEW are
listed separately as expected (e.g. the engine version string)."""
import json, os, sys

def walk(a, b, path, out, counter):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append((path + "." + k, a.get(k, "<absent>"), b.get(k, "<absent>")))
            else:
                walk(a[k], b[k], path + "." + k, out, counter)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((path + ".length", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out, counter)
    else:
        counter[0] += 1
        if a != b or type(a) != type(b):
            out.append((path, a, b))

def main():
    before, after = sys.argv[1], sys.argv[2]
    expect = {}
    for e in sys.argv[3:]:
        p, change = e.split("=", 1)
        expect.setdefault(p, set()).add(tuple(change.split("->")))
    cases = sorted(f[:-3] for f in os.listdir(before) if f.endswith(".rc"))
    fields = [0]
    unexpected, expected, plans = [], [], 0
    for c in cases:
        rd = lambda d, ext: open(os.path.join(d, c + ext)).read() if os.path.exists(os.path.join(d, c + ext)) else None
        rc_a, rc_b = rd(before, ".rc"), rd(after, ".rc")
        if rc_a != rc_b:
            unexpected.append((c, "exit code", rc_a, rc_b)); continue
        if rd(before, ".err") != rd(after, ".err"):
            unexpected.append((c, "stderr", rd(before, ".err"), rd(after, ".err")))
        if rc_a.strip() == "0":
            plans += 1
            diffs = []
            walk(json.loads(rd(before, ".json")), json.loads(rd(after, ".json")), "", diffs, fields)
            for p, x, y in diffs:
                if (str(x), str(y)) in expect.get(p, ()):
                    expected.append((c, p))
                else:
                    unexpected.append((c, p, x, y))
    print(f"{len(cases)} cases, {plans} plans (exit 0), {fields[0]} leaf fields compared")
    print(f"{len(expected)} expected differences ({', '.join(sorted(set(p for _, p in expected)))})")
    print(f"{len(unexpected)} unexpected differences")
    for u in unexpected[:50]:
        print("  ", u)
    sys.exit(1 if unexpected else 0)

main()
