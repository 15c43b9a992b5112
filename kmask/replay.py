"""Write the reproducers of earlier failures without rerunning the suite.

    python -m kmask.replay                    # every failure in the Hypothesis example database
    python -m kmask.replay -k compiled_loss   # only tests whose id contains this text
    python -m kmask.replay "tests/test_compiled_loss.py::test_loss_ignores_padded_targets" \\
        --blob "@reproduce_failure('6.170.17', b'AXic...')"   # one failure from its blob
    python -m kmask.replay --witness padded-nonfinite-targets-poison-loss   # a recorded divergence

A failing run under the ``dev`` or ``thorough`` profile stores each shrunk failing example in
``.hypothesis/examples`` (the ``ci`` profile stores nothing: use its blob). This command
collects the tests (no test runs), and for each one with stored examples replays only those
(Hypothesis's ``reuse`` phase: no generation, no shrinking), so each failure that still fails
writes its script and issue body to ``$KMASK_REPORT_DIR`` (default ``kmask-reports/``), as the
failing run would have. ``--blob`` replays the one example a ``@reproduce_failure`` line
names; ``--witness ID`` runs the witness of a recorded divergence and writes its reproducer
where the witness reproduces (witnesses write none otherwise; ``KMASK_REPORT_WITNESSES=1``
turns them on).
It prints one line per replayed test: the script written, or why none was.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from types import SimpleNamespace

import pytest
from hypothesis import Phase, reproduce_failure, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.internal.reflection import function_digest

from .properties import ROOT
from .report import WITNESSES_VARIABLE

BLOB = re.compile(r"""reproduce_failure\(\s*['"]([^'"]+)['"]\s*,\s*b?['"]([^'"]+)['"]\s*\)""")
WRITTEN = re.compile(r"Standalone reproduction \(plain Keras \+ NumPy\): (.*)")


class _Collector:
    """A pytest plugin that keeps the collected Hypothesis tests."""

    def __init__(self):
        self.items = []

    def pytest_collection_modifyitems(self, items):
        self.items = [item for item in items if hasattr(getattr(item, "obj", None), "hypothesis")]


def collect(paths: list[str]) -> list:
    """The Hypothesis test items of ``paths``, collected by pytest (nothing runs)."""
    collector, output = _Collector(), io.StringIO()
    with contextlib.redirect_stdout(output):
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0", *paths],
                           plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise SystemExit(f"collecting {paths} failed (pytest exit code {code}):\n{output.getvalue()}")
    return collector.items


def database_key(item) -> bytes:
    """The key under which Hypothesis's pytest plugin stores ``item``'s examples (set, as the
    plugin does, on the test function that parametrized items share, before each run)."""
    inner = item.obj.hypothesis.inner_test
    inner._hypothesis_internal_add_digest = item.nodeid.encode()
    return function_digest(inner)


def only_stored(test, database) -> None:
    """Let ``test`` run only the examples stored in ``database``: no generation, no shrinking
    (its settings were fixed when @given wrapped it, so they are replaced, not re-decorated)."""
    test._hypothesis_internal_use_settings = settings(
        test._hypothesis_internal_use_settings, database=database, phases=[Phase.reuse])


def replay(item, test=None) -> str:
    """Run ``item``'s test (or ``test``, a decorated copy or a witness) once more; the script it
    wrote, or why none."""
    if hasattr(getattr(item, "obj", None), "hypothesis"):
        database_key(item)
    params = item.callspec.params if hasattr(item, "callspec") else {}
    try:
        (test or item.obj)(**params)
    except AssertionError as failure:
        found = WRITTEN.search(str(failure))
        return found.group(1) if found else "failed, but this property writes no reproducer yet"
    except pytest.skip.Exception as skipped:
        return f"skipped: {str(skipped)[:200]}"
    except Exception as error:  # noqa: BLE001  (reported, then the next test)
        lines = str(error).strip().splitlines()
        return f"raised {type(error).__name__}: {lines[0] if lines else ''}"
    return "passes now: it no longer fails here"


def witness(divergence: str) -> int:
    """Run the witness of ``divergence`` with witness reports on; say what it wrote."""
    os.environ[WITNESSES_VARIABLE] = "1"
    from .witnesses import WITNESSES

    if divergence not in WITNESSES:
        raise SystemExit(f"no witness {divergence!r}; known: {', '.join(sorted(WITNESSES))}")
    print(f"{divergence}: {replay(SimpleNamespace(nodeid=divergence), WITNESSES[divergence])}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmask.replay", description=__doc__.splitlines()[0])
    parser.add_argument("test", nargs="?", help="one test id (with its [parameters]); default: all in tests/")
    parser.add_argument("-k", dest="keyword", default="", help="only test ids containing this text")
    parser.add_argument("--blob", help="a @reproduce_failure(...) line, or 'VERSION,BLOB'")
    parser.add_argument("--witness", metavar="ID", help="instead: run the witness of the recorded "
                        "divergence ID and write its reproducer (where the witness reproduces)")
    parser.add_argument("--database", default=str(ROOT / ".hypothesis" / "examples"),
                        help="the example database directory (default: .hypothesis/examples)")
    args = parser.parse_args(argv)
    if args.witness:
        return witness(args.witness)
    if args.blob and not args.test:
        parser.error("--blob needs the test id it belongs to")
    items = [item for item in collect([args.test or str(ROOT / "tests")]) if args.keyword in item.nodeid]
    if args.blob:
        found = BLOB.search(args.blob) or re.match(r"\s*([^,\s]+)\s*,\s*b?['\"]?([^'\"\s]+)", args.blob)
        if not found or len(items) != 1:
            parser.error("--blob needs one test id and a blob like \"@reproduce_failure('6.1.0', b'AXic...')\"")
        version, blob = found.groups()
        item = items[0]
        print(f"{item.nodeid}: {replay(item, reproduce_failure(version, blob.encode())(item.obj))}")
        return 0
    database = DirectoryBasedExampleDatabase(args.database)
    stored = [item for item in items if list(database.fetch(database_key(item)))]
    for item in stored:
        only_stored(item.obj, database)
        print(f"{item.nodeid}: {replay(item)}", flush=True)
    if not stored:
        print(f"no stored failures in {args.database} for {len(items)} tests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
