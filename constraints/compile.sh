#!/usr/bin/env bash
# Regenerate the pinned constraints files in constraints/ with `uv pip compile`.
#
#   bash constraints/compile.sh                  # every file, keeping the pins already there
#   bash constraints/compile.sh 2.21 2.16-legacy # only those files
#   bash constraints/compile.sh --upgrade        # re-resolve everything to the newest versions
#   bash constraints/compile.sh 2.21 --upgrade-package hypothesis
#
# Arguments that start with "-" are passed on to `uv pip compile`; the others name files
# (X.Y or X.Y-legacy). Needs uv on PATH (or UV=/path/to/uv), e.g. `python -m pip install uv`
# in a throwaway virtualenv. uv treats an existing output file as preferences, so without
# --upgrade a rerun only changes what it has to.
#
# Each file is resolved for the install `pip install -c constraints/tf-X.Y.txt -e ".[cpu]"`
# (legacy files: ".[cpu,legacy-keras]") on CPython 3.11, Linux x86_64: the dependencies in
# pyproject.toml plus the small input constraints/in/tf-X.Y[-legacy].in, which picks the
# TensorFlow minor (and the matching tf-keras minor for legacy files).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

UV=${UV:-uv}
if ! command -v "$UV" >/dev/null 2>&1; then
    echo "compile.sh: uv not found; install it (pip install uv) or set UV=/path/to/uv" >&2
    exit 1
fi

PYTHON_VERSION=3.11
PYTHON_PLATFORM=x86_64-manylinux_2_28
ALL=(2.12 2.13 2.14 2.15 2.16 2.17 2.18 2.19 2.20 2.21
     2.16-legacy 2.17-legacy 2.18-legacy 2.19-legacy 2.20-legacy 2.21-legacy)

names=()
uv_args=()
for arg in "$@"; do
    case "$arg" in
        -*) uv_args+=("$arg") ;;
        *)  names+=("$arg") ;;
    esac
done
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")

for name in "${names[@]}"; do
    input="constraints/in/tf-$name.in"
    output="constraints/tf-$name.txt"
    if [ ! -f "$input" ]; then
        echo "compile.sh: no input $input (known: ${ALL[*]})" >&2
        exit 1
    fi
    extras=(--extra cpu)
    case "$name" in *-legacy) extras+=(--extra legacy-keras) ;; esac

    cmd=("$UV" pip compile pyproject.toml "$input" "${extras[@]}"
         --python-version "$PYTHON_VERSION" --python-platform "$PYTHON_PLATFORM"
         --custom-compile-command "bash constraints/compile.sh $name"
         --quiet -o "$output" ${uv_args[@]+"${uv_args[@]}"})
    { printf '+'; printf ' %q' "${cmd[@]}"; printf '\n'; } >&2
    "${cmd[@]}"

    # Spell out the underlying uv call under uv's header, and make sure the project
    # itself (an editable/local install) never ends up pinned in a constraints file.
    raw="uv pip compile pyproject.toml $input ${extras[*]} --python-version $PYTHON_VERSION --python-platform $PYTHON_PLATFORM -o $output"
    tmp=$(mktemp)
    awk -v raw="$raw" '
        NR == 2 { print; print "#    (which runs: " raw ")"; next }
        /^-e[ =]/ || /file:\/\// || /^kmask[ =@]/ { next }
        { print }
    ' "$output" >"$tmp"
    mv "$tmp" "$output"
done
