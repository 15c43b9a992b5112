"""The version report: which masking behaviours hold on which Keras/TensorFlow, from result files.

``python -m kmask.matrix [RESULTS_DIR] [--out reports/versions] [--intro FILE]`` reads every
``*.json`` that
``kmask/results.py`` wrote into RESULTS_DIR (default ``$KMASK_RESULTS_DIR``, else
``results/latest``, where tox puts them) and writes

* ``OUT.md``: the environments' stamps, a matrix of property family (and recorded divergence) ×
  environment, what changes between neighbouring versions, and the failing tests;
* ``OUT.png``: the same matrix as a heat map (needs matplotlib: ``pip install -e '.[report]'``).

``--intro FILE`` puts FILE's Markdown under the title: how and when the runs were made, which the
result files alone do not say.

This module reads JSON only: it imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from pathlib import Path

FAMILIES = {
    "padding invisible": ("test_padding_invisible", "test_recurrent_padding", "test_execution_modes"),
    "mask propagation": ("test_mask_propagation", "test_api_equivalence", "test_masking_claims", "test_save_load"),
    "compiled loss": ("test_compiled_loss", "test_multi_output_loss", "test_seed_notebook"),
    "training": ("test_gradients", "test_optimizer_steps", "test_training_mode", "test_batchnorm_mask",
                 "test_mixed_precision"),
}
OTHER = "other tests"
FAMILY_OF_FILE = {stem: family for family, stems in FAMILIES.items() for stem in stems}

NEW_FAILURE, UNEXPECTED_PASS, RECORDED, PASS, SKIPPED, NOT_RUN = (
    "new failure", "unexpected pass", "recorded divergence", "pass", "skipped", "not run",
)
VERDICTS = (NEW_FAILURE, UNEXPECTED_PASS, RECORDED, PASS, SKIPPED, NOT_RUN)
"""Worst first: a cell shows the worst verdict among its tests."""
DIVERGENCE_WORDS = {RECORDED: "reproduces", PASS: "absent"}
"""How a recorded divergence's row words the verdicts of its replay."""
_UNEXPECTED_PASS = re.compile(r"^(Failed: )?unexpected pass\b|^\[XPASS\(strict\)\]")

AXES = (
    ("TensorFlow (tf2.X: tf.keras up to 2.15, Keras 3 from 2.16)", re.compile(r"tf\d+\.\d+")),
    ("tf-keras on TensorFlow 2.16+ (tf2.X-legacy)", re.compile(r"tf\d+\.\d+-legacy")),
    ("Keras 3 (keras3.X)", re.compile(r"keras\d+\.\d+(\.\d+)?")),
    ("Keras 3 backends (keras3.X-jax, keras3.X-torch)", re.compile(r"keras\d+\.\d+-(jax|torch)")),
)
OTHER_AXIS = "other environments"


@dataclasses.dataclass
class Run:
    """One environment's result file."""

    environment: dict
    tests: list[dict]
    unmatched_expectations: list[dict]
    wall_seconds: float | None = None
    exit_status: int | None = None

    @property
    def name(self) -> str:
        return self.environment["name"]


def natural_key(name: str) -> tuple:
    """Sorts ``keras3.9`` before ``keras3.10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part)


def axis_of(name: str) -> str:
    """The axis an environment name lies on."""
    return next((axis for axis, pattern in AXES if pattern.fullmatch(name)), OTHER_AXIS)


def environment_key(name: str) -> tuple:
    """tf2.12 … tf2.21, then tf2.X-legacy, then keras3.0 … keras3.15, then keras3.X-jax and
    -torch, then any other name."""
    axes = [axis for axis, _ in AXES] + [OTHER_AXIS]
    return axes.index(axis_of(name)), natural_key(name)


def load(directory: Path) -> list[Run]:
    """Every result file in ``directory``, in environment order."""
    runs = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "environment" not in data or "tests" not in data:
            raise SystemExit(f"{path}: not a kmask result file (no 'environment' and 'tests')")
        runs.append(Run(data["environment"], data["tests"], data.get("unmatched_expectations", []),
                        data.get("wall_seconds"), data.get("exit_status")))
    if not runs:
        raise SystemExit(f"no *.json result files in {directory}: run the suite with KMASK_RESULTS_DIR={directory}")
    return sorted(runs, key=lambda run: environment_key(run.name))


def verdict(test: dict) -> str:
    """What one test's outcome means for the matrix."""
    outcome = test["outcome"]
    if outcome in ("failed", "error"):
        return UNEXPECTED_PASS if _UNEXPECTED_PASS.match(test.get("message") or "") else NEW_FAILURE
    return {"xpassed": UNEXPECTED_PASS, "xfailed": RECORDED, "passed": PASS, "skipped": SKIPPED}.get(outcome, NEW_FAILURE)


def replayed_divergence(test: dict) -> str | None:
    """The divergence id when the test is ``test_known_divergence[<id>]``."""
    return test.get("divergence") if "::test_known_divergence[" in test["nodeid"] else None


def row_of(test: dict) -> str:
    """The matrix row a test counts in: a family, ``other tests``, or a divergence id."""
    divergence = replayed_divergence(test)
    if divergence:
        return divergence
    return FAMILY_OF_FILE.get(Path(test["nodeid"].split("::")[0]).stem, OTHER)


def word(row: str, verdict_: str) -> str:
    """A verdict as the row words it (``reproduces``/``absent`` on a divergence row)."""
    return DIVERGENCE_WORDS.get(verdict_, verdict_) if row not in FAMILIES and row != OTHER else verdict_


@dataclasses.dataclass
class Matrix:
    """Rows × environments, each cell the worst verdict of its tests and how many tests had it."""

    runs: list[Run]
    families: list[str]
    divergences: list[str]
    cells: dict[tuple[str, str], tuple[str, int]]

    @property
    def rows(self) -> list[str]:
        return self.families + self.divergences

    def verdict(self, row: str, env: str) -> str:
        return self.cells.get((row, env), (NOT_RUN, 0))[0]


def build(runs: list[Run]) -> Matrix:
    """The matrix of ``runs``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for test in run.tests:
            grouped.setdefault((row_of(test), run.name), []).append(verdict(test))
    cells = {}
    for key, verdicts in grouped.items():
        worst = min(verdicts, key=VERDICTS.index)
        cells[key] = (worst, verdicts.count(worst))
    present = {row for row, _ in grouped}
    families = [*FAMILIES, *([OTHER] if OTHER in present else [])]
    divergences = sorted(present - set(families))
    return Matrix(runs, families, divergences, cells)


def axes(runs: list[Run]) -> dict[str, list[Run]]:
    """The runs on each axis, in order; axes without runs are left out."""
    by_axis: dict[str, list[Run]] = {}
    for run in runs:
        by_axis.setdefault(axis_of(run.name), []).append(run)
    return by_axis


def changes(before: Run, after: Run) -> list[str]:
    """One line per test whose verdict differs between two neighbouring environments."""
    old = {t["nodeid"]: t for t in before.tests}
    new = {t["nodeid"]: t for t in after.tests}
    lines = []
    for nodeid in sorted(old.keys() & new.keys()):
        a, b = verdict(old[nodeid]), verdict(new[nodeid])
        if a == b:
            continue
        divergence = replayed_divergence(new[nodeid])
        if divergence and {a, b} == {RECORDED, PASS}:
            lines.append(f"`{divergence}` {'stops' if a == RECORDED else 'starts'} reproducing")
        elif divergence:
            lines.append(f"`{divergence}`: {word(divergence, a)} → {word(divergence, b)}")
        else:
            lines.append(f"`{nodeid}`: {a} → {b}")
    only_before, only_after = len(old.keys() - new.keys()), len(new.keys() - old.keys())
    if only_before or only_after:
        lines.append(f"{only_before} test(s) ran only in {before.name}, {only_after} only in {after.name}")
    return lines


LEGEND = f"""\
Rows: the four property families (a row holds the tests of these files), then
*{OTHER}* if any ran, then one row per recorded divergence, i.e. its replay
`test_known_divergence[<id>]`.

| family | test files |
|---|---|
""" + "".join(f"| {family} | {', '.join(f'`{stem}`' for stem in stems)} |\n" for family, stems in FAMILIES.items()) + f"""
Each cell is the worst verdict among the cell's tests, worst first:

* **{NEW_FAILURE}**: a test failed or errored: a masking bug, or a divergence not recorded for
  this version (on a divergence row: the replay reproduces where the record says it should not);
* **{UNEXPECTED_PASS}**: a test expected to fail passed (a recorded divergence no longer
  reproduces where its record says it does, or a test in the xfails file passed);
* **{RECORDED}** (on a divergence row: **reproduces**): the test failed as recorded in
  `kmask/divergences.py` or as expected by the xfails file;
* **{PASS}** (on a divergence row: **absent**): the tests passed; a divergence does not occur here;
* **{SKIPPED}**: every test was skipped (e.g. a case that a recorded divergence covers entirely);
* **{NOT_RUN}**: the environment's result file holds no test of this row.

The number after a new failure or unexpected pass counts the tests with that verdict; they are
listed under *Failures and unexpected passes*.
"""


def _cell(matrix: Matrix, row: str, env: str) -> str:
    verdict_, count = matrix.cells.get((row, env), (NOT_RUN, 0))
    text = word(row, verdict_)
    return f"**{text}** ({count})" if verdict_ in (NEW_FAILURE, UNEXPECTED_PASS) else text


def _short_path(path: str) -> str:
    """A Keras package path with everything up to ``site-packages`` cut."""
    _, marker, tail = path.partition("site-packages")
    return f"…/site-packages{tail}" if marker else path


def _onednn_words(enabled: bool | None) -> str:
    """Whether TensorFlow ran its oneDNN CPU kernels ("?" in result files written before kmask
    stamped it)."""
    return "?" if enabled is None else ("on" if enabled else "off")


def _exit_words(status: int | None) -> str:
    """pytest's exit status, named where it means the run is incomplete (its cells then hold only
    the tests that ran)."""
    names = {0: "0", 1: "1 (failures)", 2: "2 (interrupted: incomplete)", 3: "3 (internal error: incomplete)",
             4: "4 (usage error)", 5: "5 (no tests)"}
    return "?" if status is None else names.get(status, str(status))


def markdown(matrix: Matrix, source: Path, intro: str = "") -> str:
    """The whole report as Markdown, ``intro`` (Markdown) under its title."""
    runs = matrix.runs
    dates = sorted(run.environment.get("date", "") for run in runs)
    out = [
        "# kmask version report",
        "",
        *([intro.strip(), ""] if intro.strip() else []),
        f"From {len(runs)} result file(s) in `{source}` (runs dated {dates[0]} to {dates[-1]}). "
        "Regenerate with `python -m kmask.matrix RESULTS_DIR [--intro FILE] --out reports/versions`.",
        "",
        "## How to read it",
        "",
        LEGEND,
        "## Environments",
        "",
        "| environment | TensorFlow | Keras | flavour | backend | oneDNN | Python | profile | examples "
        "| minutes | pytest exit | kmask commit | Keras from |",
        "|---|---|---|---|---|---|---|---|---:|---:|---|---|---|",
    ]
    for run in runs:
        e = run.environment
        minutes = f"{run.wall_seconds / 60:.1f}" if run.wall_seconds is not None else "?"
        out.append(
            f"| {run.name} | {e['tensorflow']} | {e['keras']} | {e['keras_flavour']} | {e['backend']} | "
            f"{_onednn_words(e.get('onednn'))} | {e['python']} | {e['hypothesis_profile']} | {e['max_examples']} | {minutes} | "
            f"{_exit_words(run.exit_status)} | {e.get('kmask_commit') or '?'} | `{_short_path(e['keras_path'])}` |"
        )
    out += ["", "## Matrix", "", "| | " + " | ".join(run.name for run in runs) + " |",
            "|---|" + "---|" * len(runs)]
    for row in matrix.rows:
        if matrix.divergences and row == matrix.divergences[0]:
            out.append("| *recorded divergences:* |" + " |" * len(runs))
        label = f"**{row}**" if row in matrix.families else f"`{row}`"
        out.append(f"| {label} | " + " | ".join(_cell(matrix, row, run.name) for run in runs) + " |")
    out += ["", "## What changes between neighbouring versions", ""]
    for axis, on_axis in axes(runs).items():
        if axis == OTHER_AXIS or len(on_axis) < 2:
            continue
        out += [f"### {axis}", ""]
        for before, after in zip(on_axis, on_axis[1:]):
            lines = changes(before, after) or ["no change"]
            out += [f"- {before.name} → {after.name}: {line}" for line in lines]
        out.append("")
    out += ["## Failures and unexpected passes", ""]
    for run in runs:
        failing = [t for t in run.tests if verdict(t) in (NEW_FAILURE, UNEXPECTED_PASS)]
        if failing:
            out += [f"### {run.name}", ""]
            out += [f"- `{t['nodeid']}` ({t['outcome']}): {t.get('message') or ''}" for t in failing]
            out.append("")
    if not any(verdict(t) in (NEW_FAILURE, UNEXPECTED_PASS) for run in runs for t in run.tests):
        out += ["none", ""]
    stale = [(run.name, e) for run in runs for e in run.unmatched_expectations]
    if stale:
        out += ["## Expectations that matched no test", ""]
        out += [f"- {name}: line {e['line']}: `{e['pattern']}` ({e['reason']})" for name, e in stale]
        out.append("")
    return "\n".join(out)


COLOURS = {
    NEW_FAILURE: "#d62728", UNEXPECTED_PASS: "#9467bd", RECORDED: "#ffb000",
    PASS: "#2ca02c", SKIPPED: "#c7c7c7", NOT_RUN: "#f2f2f2",
}
ABBREVIATIONS = {
    NEW_FAILURE: "FAIL", UNEXPECTED_PASS: "XPASS", RECORDED: "div", PASS: "pass", SKIPPED: "skip",
    NOT_RUN: "–", "reproduces": "repro", "absent": "absent",
}


def heatmap(matrix: Matrix, path: Path):
    """The matrix as a PNG heat map, one colour per verdict, with a legend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    envs = [run.name for run in matrix.runs]
    rows = matrix.rows
    values = [[VERDICTS.index(matrix.verdict(row, env)) for env in envs] for row in rows]
    height = 2.2 + 0.3 * len(rows)
    figure, ax = plt.subplots(figsize=(max(9.0, 4.0 + 0.62 * len(envs)), height))
    ax.imshow(values, cmap=ListedColormap([COLOURS[v] for v in VERDICTS]), vmin=0, vmax=len(VERDICTS) - 1,
              aspect="auto")
    for i, row in enumerate(rows):
        for j, env in enumerate(envs):
            verdict_ = matrix.verdict(row, env)
            text_colour = "white" if verdict_ in (NEW_FAILURE, UNEXPECTED_PASS, PASS) else "black"
            ax.text(j, i, ABBREVIATIONS[word(row, verdict_)], ha="center", va="center", fontsize=7,
                    color=text_colour)
    ax.set_xticks(range(len(envs)), envs, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [row if row in matrix.families else f"  {row}" for row in rows], fontsize=8)
    ax.set_xticks([x - 0.5 for x in range(1, len(envs))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(rows))], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    if matrix.divergences and matrix.families:
        ax.axhline(len(matrix.families) - 0.5, color="black", linewidth=1.5)
    start = 0
    for on_axis in list(axes(matrix.runs).values())[:-1]:
        start += len(on_axis)
        ax.axvline(start - 0.5, color="black", linewidth=1.5)
    ax.set_title("kmask: property families and recorded divergences by environment", fontsize=9)
    legend = [Patch(facecolor=COLOURS[v], edgecolor="grey", label=f"{ABBREVIATIONS[v]} = {v}") for v in VERDICTS]
    legend[VERDICTS.index(RECORDED)].set_label("div / repro = recorded divergence (reproduces)")
    legend[VERDICTS.index(PASS)].set_label("pass / absent = pass (divergence absent)")
    figure.legend(handles=legend, loc="lower center", ncol=3, fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.75 / height, 1, 1))
    figure.savefig(path, dpi=130)
    plt.close(figure)


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(prog="python -m kmask.matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "results", nargs="?", type=Path,
        default=Path(os.environ.get("KMASK_RESULTS_DIR", "results/latest")),
        help="folder of <env>.json result files (default: $KMASK_RESULTS_DIR, else results/latest)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/versions"),
                        help="writes OUT.md and OUT.png (default: reports/versions)")
    parser.add_argument("--intro", type=Path, default=None,
                        help="a Markdown file put under the report's title (how the runs were made)")
    args = parser.parse_args(argv)
    if args.intro is not None and not args.intro.is_file():
        sys.exit(f"--intro {args.intro}: no such file; pass a Markdown file or leave the option out")
    matrix = build(load(args.results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = args.out.with_name(args.out.name + ".md")
    report.write_text(markdown(matrix, args.results, args.intro.read_text() if args.intro else ""))
    print(f"wrote {report}")
    try:
        heatmap(matrix, args.out.with_name(args.out.name + ".png"))
    except ImportError:
        sys.exit("matplotlib is needed for the heat map: pip install -e '.[report]'")
    print(f"wrote {args.out.with_name(args.out.name + '.png')}")


if __name__ == "__main__":
    main()
