"""Measure the suite's speed on the installed Keras: examples/s per property, whole-run time
and peak resident memory.

    python benchmarks/bench.py                # examples/s per property (one core)
    python benchmarks/bench.py --full-run     # also: wall time and peak RSS of `pytest -n auto`
    python benchmarks/bench.py --no-properties --full-run --runs 3   # the median of 3 whole runs
    python benchmarks/bench.py --examples 150 # more examples per case (the thorough profile's count)

Numbers go into the README's "Speed" table; this is a script, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mib(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def property_cases():
    """(name, property, list of parameter dicts) for every Hypothesis property in tests/."""
    from kmask.properties import properties

    cases = []
    for _, test in sorted(properties().items()):
        mark = next((m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"), None)
        if mark is None:
            cases.append((test.__name__, test, [{}]))
            continue
        names = [n.strip() for n in mark.args[0].split(",")]
        values = [p.values if hasattr(p, "values") else p if len(names) > 1 else (p,) for p in mark.args[1]]
        cases.append((test.__name__, test, [dict(zip(names, v)) for v in values]))
    return cases


def measure_property(test, param_sets, examples: int) -> tuple[int, float]:
    """Run every parameter set of ``test`` for ``examples`` examples; (examples run, seconds)."""
    import pytest
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    counted = {"n": 0}
    inner = test.hypothesis.inner_test

    def counting(*args, **kwargs):
        counted["n"] += 1
        return inner(*args, **kwargs)

    wrapped = settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(data=st.data())(counting))
    start = time.perf_counter()
    for params in param_sets:
        try:
            wrapped(**params)
        except pytest.skip.Exception:
            pass
    return counted["n"], time.perf_counter() - start


def full_run() -> tuple[float, float, str]:
    """Wall time, peak worker RSS (MiB) and summary line of `pytest -n auto` (dev profile)."""
    env = {**os.environ, "KMASK_PROFILE": os.environ.get("KMASK_PROFILE", "dev")}
    env.pop("CI", None)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    return wall, peak_rss_mib(resource.RUSAGE_CHILDREN), summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10, help="examples per parameter set")
    parser.add_argument("--full-run", action="store_true", help="also time `pytest -n auto`")
    parser.add_argument("--only", help="substring of the property names to measure")
    parser.add_argument("--properties", action=argparse.BooleanOptionalAction, default=True,
                        help="measure examples/s per property (--no-properties: only the full run)")
    parser.add_argument("--runs", type=int, default=1,
                        help="with --full-run: run `pytest -n auto` N times and give the median")
    args = parser.parse_args(argv)
    if args.runs < 1 or (args.runs > 1 and not args.full_run):
        parser.error("--runs N needs N >= 1 and --full-run")
    if not args.properties and not args.full_run:
        parser.error("--no-properties leaves nothing to measure: add --full-run")

    from kmask.build import freeze_startup_heap
    from kmask.keras_compat import describe

    print(f"# {describe()}, {os.cpu_count()} cores, {args.examples} examples per case")
    if args.properties:
        print(f"{'property':48} {'cases':>5} {'examples':>8} {'seconds':>8} {'ex/s':>6}")
        cases = property_cases()
        freeze_startup_heap()  # as conftest does once the tests are collected
        for name, test, param_sets in cases:
            if args.only and args.only not in name:
                continue
            n, seconds = measure_property(test, param_sets, args.examples)
            print(f"{name:48} {len(param_sets):5d} {n:8d} {seconds:8.1f} {n / seconds:6.1f}", flush=True)
        print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB")
    if args.full_run:
        walls = []
        for run in range(1, args.runs + 1):
            wall, rss, summary = full_run()
            walls.append(wall)
            print(f"pytest -n auto, run {run}/{args.runs}: {wall:.0f} s wall, peak worker RSS so far "
                  f"{rss:.0f} MiB ({summary})", flush=True)
        if args.runs > 1:
            print(f"median of {args.runs} runs: {statistics.median(walls):.0f} s wall")


if __name__ == "__main__":
    main()
