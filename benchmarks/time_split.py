"""Where a run's time goes: building models, tracing, running Keras, drawing examples, the rest.

Reads a py-spy profile in raw (collapsed-stack) form of one pytest process and prints, per test
file and in total, the seconds spent in each kind of work. Record one with

    pip install py-spy
    KMASK_PROFILE=ci py-spy record --idle -r 20 -f raw -o run.txt -- python -m pytest -n 0 tests
    python benchmarks/time_split.py run.txt --rate 20

``--idle`` keeps the samples where Python waits for TensorFlow's kernels, so the split is of wall
time. Each sample counts once, in the first kind (in the order of ``KINDS``) that one of its
frames belongs to; a Keras call inside a model build counts as building, a trace inside ``fit``
as tracing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

BUILDERS = {
    "kmask/build.py": {"build", "build_with_policy"},
    "kmask/graph_build.py": {"_functional_graph", "builder", "_stack_layer", "_with_weights",
                             "_nested", "_sequential", "_functional"},
    "kmask/compiled.py": {"__init__", "set_weights"},
}
KERAS_BUILD = {"Functional.__init__", "Sequential.build", "Sequential.add", "Model.compile",
               "Layer.set_weights", "Model.set_weights", "Layer._maybe_build",
               "Operation.symbolic_call", "Layer._functional_construction_call"}
TRACE = {"trace_function", "_maybe_define_function", "func_graph_from_py_func"}
RUN = {"fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch"}


def kind_of(frames: list[tuple[str, str]]) -> str:
    """The kind of work one stack (outermost frame first) is doing."""
    names = {function.rsplit(".", 1)[-1] for function, _ in frames} | {function for function, _ in frames}
    is_keras = lambda file: file.startswith(("keras/", "tf_keras/")) or "/keras/" in file  # noqa: E731
    if any(function.rsplit(".", 1)[-1] in BUILDERS.get(file, ()) for function, file in frames) or any(
        function in KERAS_BUILD and is_keras(file) for function, file in frames
    ):
        return "building models"
    if names & TRACE:
        return "tracing functions"
    if any(function.rsplit(".", 1)[-1] in RUN and is_keras(file) for function, file in frames):
        return "fit / evaluate / predict"
    if any(function.endswith("Function.__call__") and "polymorphic_function" in file for function, file in frames):
        return "compiled calls"
    if any(function.endswith("GradientTape.gradient") for function, _ in frames):
        return "gradients"
    if any(function.endswith(("Layer.__call__", "Operation.__call__")) and is_keras(file) for function, file in frames):
        return "eager Keras calls"
    if any(function in ("clear_session", "ModelCache.get") for function, _ in frames):
        return "clearing sessions"
    if any(file.startswith("hypothesis/") and function.rsplit(".", 1)[-1] in ("draw", "do_draw")
           for function, file in frames):
        return "drawing examples"
    return "other (oracles, checks, harness)"


KINDS = ("building models", "tracing functions", "fit / evaluate / predict", "compiled calls",
         "gradients", "eager Keras calls", "clearing sessions", "drawing examples",
         "other (oracles, checks, harness)")
OUTSIDE = "outside tests (imports, collection)"


def parse(line: str) -> tuple[list[tuple[str, str]], int]:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    frames = []
    for text in stack.split(";"):
        match = FRAME.match(text)
        frames.append((match["function"], match["file"]) if match else (text, ""))
    return frames, int(count)


def split(lines) -> dict[str, dict[str, int]]:
    """Samples per test file and kind of work."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in lines:
        if not line.strip():
            continue
        frames, count = parse(line)
        if not any(function == "pytest_runtest_call" for function, _ in frames):
            table[OUTSIDE][OUTSIDE] += count
            continue
        test_file = next((file for _, file in frames if re.match(r"tests/test_\w+\.py$", file)), "other test code")
        table[test_file][kind_of(frames)] += count
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="py-spy raw output (py-spy record -f raw)")
    parser.add_argument("--rate", type=float, required=True, help="the sampling rate given to py-spy -r")
    args = parser.parse_args(argv)
    try:
        with open(args.profile) as handle:
            table = split(handle)
    except (OSError, ValueError, TypeError) as error:
        sys.exit(f"{args.profile}: not a py-spy raw profile ({error}); record one with py-spy record -f raw")
    seconds = lambda samples: samples / args.rate  # noqa: E731
    totals = defaultdict(int)
    for kinds in table.values():
        for kind, samples in kinds.items():
            totals[kind] += samples
    everything = sum(totals.values())
    print(f"{seconds(everything):.0f} s sampled\n")
    print("| kind of work | seconds | share |\n|---|---:|---:|")
    for kind in (*KINDS, OUTSIDE):
        if totals[kind]:
            print(f"| {kind} | {seconds(totals[kind]):.0f} | {100 * totals[kind] / everything:.0f}% |")
    print("\n| test file | seconds | " + " | ".join(KINDS) + " |")
    print("|---|---:|" + "---:|" * len(KINDS))
    files = sorted((f for f in table if f != OUTSIDE), key=lambda f: -sum(table[f].values()))
    for test_file in files:
        kinds = table[test_file]
        cells = " | ".join(f"{seconds(kinds[kind]):.0f}" for kind in KINDS)
        print(f"| `{test_file}` | {seconds(sum(kinds.values())):.0f} | {cells} |")


if __name__ == "__main__":
    main()
