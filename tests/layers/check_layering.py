#!/usr/bin/env python3
"""The layering rule (scripts/check_layers.py) holds on the source tree, and the checker itself
catches what it should: an upward include, a feature folder including another of its layer, the
library including the CLI, a record schema in apps/, and a folder it does not know. Run by CTest (and so by .ci/run)."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECKER = os.path.join(ROOT, "scripts", "check_layers.py")


def check(root):
    r = subprocess.run([sys.executable, CHECKER, "--root", root], capture_output=True, text=True)
    return r.returncode, r.stdout


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def main():
    code, out = check(ROOT)
    print(out.strip().splitlines()[-1])
    if code != 0:
        print(out)
        return 1
    failures = 0
    cases = [
        ("an upward include", "src/filterscope/anomaly/a.cpp", '#include "filterscope/report/html_report.h"\n',
         "anomaly (layer 5) includes report/html_report.h of report (layer 9)"),
        ("train including the run store", "src/filterscope/train/t.cpp", '#include "filterscope/runs/model_source.h"\n',
         "train (layer 6) includes runs/model_source.h"),
        ("the library including the CLI", "src/filterscope/core/c.cpp", '#include "cli.h"\n', "the library includes the CLI"),
        ("a schema in apps", "apps/cmd_x.cpp", 'out = {{"format", "filterscope-thing-1"}};\n', "a record schema in the front end"),
        ("an unknown folder", "src/filterscope/misc/m.cpp", "int x;\n", "folder not in the layer table"),
        ("one feature folder including another of its layer", "src/filterscope/signals/s.cpp",
         '#include "filterscope/experiments/track.h"\n', "a feature folder of the same layer (8)"),
        ("report including pipeline", "src/filterscope/report/r.cpp",
         '#include "filterscope/pipeline/overfit_grid.h"\n', "a feature folder of the same layer (9)"),
    ]
    for name, path, text, expected in cases:
        with tempfile.TemporaryDirectory() as tmp:
            write(tmp, "src/filterscope/core/ok.h", "#pragma once\n")
            write(tmp, "src/filterscope/runs/layout.h", '#include "filterscope/core/ok.h"\n')
            write(tmp, "src/filterscope/train/uses_layout.cpp", '#include "filterscope/runs/layout.h"\n')  # allowed
            write(tmp, "apps/cli.cpp", '#include "filterscope/report/html_report.h"\n')  # apps may include anything
            code, out = check(tmp)
            if code != 0:
                print(f"FAIL: a clean tree was refused:\n{out}")
                failures += 1
            write(tmp, path, text)
            code, out = check(tmp)
            if code == 0 or expected not in out:
                print(f"FAIL: {name} was not caught (exit {code}):\n{out}")
                failures += 1
            else:
                print(f"ok: {name}: {out.splitlines()[0]}")
    print(f"{len(cases) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
