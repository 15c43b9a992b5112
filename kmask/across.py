"""Run one standalone reproducer in every tox environment and say where it reproduces.

    python -m kmask.across kmask-reports/loss-1a2b3c4d.py            # every env under .tox/
    python -m kmask.across SCRIPT --envs keras3.0 keras3.12 tf2.15   # a given list
    python -m kmask.across SCRIPT --tox-dir /path/to/.tox

Each environment's own Python runs the script (``<tox-dir>/<env>/bin/python SCRIPT``) in a
fresh process; its exit status says what happened there: 1 reproduces, 0 does not, anything
else (2, a crash, a timeout) errors, with the last line of its output. The table shows where
a bug starts and where it ends. Environments run one after another.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

OUTCOMES = {1: "reproduces", 0: "does not reproduce"}
TIMEOUT = 600


def env_order(name: str):
    """``keras3.9`` before ``keras3.10``: compare the numbers in a name as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def environments(tox_dir: Path, names: list[str] | None) -> list[str]:
    """The given environments, or every one under ``tox_dir`` that has a Python."""
    if names:
        return names
    found = {p.parent.parent.name for p in tox_dir.glob("*/bin/python") if p.exists()}
    return sorted((name for name in found if not name.startswith(".")), key=env_order)


def _versions(output: str) -> str:
    """The "TensorFlow x, Keras y" part of the environment line a script prints first."""
    found = re.search(r"TensorFlow (\S+), Keras (\S+)", output)
    return f"TF {found.group(1)}, Keras {found.group(2)}" if found else ""


def run_in(tox_dir: Path, env: str, script: Path) -> tuple[str, str, str]:
    """``(outcome, versions, detail)`` of ``script`` run by the Python of ``env``."""
    python = (tox_dir / env / "bin" / "python").absolute()  # not resolved: the symlink is the venv
    if not python.exists():
        return "errors", "", f"no {python}"
    try:
        done = subprocess.run([str(python), str(script.resolve())], capture_output=True, text=True,
                              timeout=TIMEOUT, cwd=script.resolve().parent)
    except subprocess.TimeoutExpired:
        return "errors", "", f"timed out after {TIMEOUT} s"
    output = (done.stdout + done.stderr).strip()
    lines = output.splitlines()
    if done.returncode in OUTCOMES:
        detail = next((line.strip() for line in lines if line.startswith("largest difference")), "")
        return OUTCOMES[done.returncode], _versions(output), detail
    return "errors", _versions(output), f"exit {done.returncode}: {lines[-1].strip() if lines else ''}"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """A Markdown table: environment | versions | outcome | detail."""
    lines = ["| environment | versions | outcome | detail |", "|---|---|---|---|"]
    lines += [f"| {env} | {versions} | {outcome} | {detail.replace('|', '/')} |"
              for env, versions, outcome, detail in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmask.across", description=__doc__.splitlines()[0])
    parser.add_argument("script", type=Path, help="a reproducer written by kmask (kmask-reports/*.py)")
    parser.add_argument("--envs", nargs="+", metavar="ENV", help="environment names under --tox-dir "
                        "(default: every one there)")
    parser.add_argument("--tox-dir", type=Path, default=Path(".tox"), help="default: .tox")
    args = parser.parse_args(argv)
    if not args.script.is_file():
        parser.error(f"no script {args.script}")
    envs = environments(args.tox_dir, args.envs)
    if not envs:
        parser.error(f"no environments under {args.tox_dir} (build them with tox, or pass --tox-dir)")
    rows = []
    for env in envs:
        outcome, versions, detail = run_in(args.tox_dir, env, args.script)
        print(f"{env}: {outcome}", file=sys.stderr, flush=True)
        rows.append((env, versions, outcome, detail))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
