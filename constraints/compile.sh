#!/usr/bin/env bash
# Regenerate the pinned constraints files in constraints/ with `uv pip compile`.
#
#   bash constraints/compile.sh                  # every file, keeping the pins already there
#   bash constraints/compile.sh 2.21 2.16-legacy # only those TensorFlow-axis files
#   bash constraints/compile.sh keras-3.4        # only constraints/keras-3.4.txt
#   bash constraints/compile.sh tf | legacy | keras3 | backends   # one whole axis (as the tox labels)
#   bash constraints/compile.sh --upgrade        # re-resolve everything to the newest versions
#   bash constraints/compile.sh 2.21 --upgrade-package hypothesis
#
# Arguments that start with "-" are passed on to `uv pip compile`; the others name files
# (X.Y, X.Y-legacy or keras-3.X) or axes (tf, legacy, keras3). Needs uv on PATH (or
# UV=/path/to/uv), e.g. `python -m pip install uv` in a throwaway virtualenv. uv treats an
# existing output file as preferences, so without --upgrade a rerun only changes what it has to.
#
# Each file is resolved for the install `pip install -c constraints/FILE.txt -e ".[cpu]"`
# (legacy files: ".[cpu,legacy-keras]") on CPython 3.11, Linux x86_64: the dependencies in
# pyproject.toml plus a small input in constraints/in/:
#   tf-X.Y.in, tf-X.Y-legacy.in  pick the TensorFlow minor (and the matching tf-keras minor);
#   keras-3.X.in                 picks a Keras 3 minor (`keras~=3.X.0`, so its newest patch) and
#                                the TensorFlow minor it runs on;
#   keras-3.15-jax.in, keras-3.15-torch.in   Keras 3.15 with JAX or PyTorch (extra jax / torch).
# Where TensorFlow's own requirement on keras excludes the Keras pin (e.g. TF 2.20 wants
# keras>=3.10), add constraints/in/keras-3.X.override holding the keras requirement (e.g.
# `keras~=3.9.0`): it is passed as `uv pip compile --override`, so the Keras pin wins, and the
# install needs it too (UV_OVERRIDE=constraints/in/keras-3.X.override; pip cannot override).
# A keras-3.X.txt that does not exist yet starts from the pins of its TensorFlow's tf-X.Y.txt,
# so the two files agree on everything but Keras (and what Keras alone pulls in).
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
TF=(2.12 2.13 2.14 2.15 2.16 2.17 2.18 2.19 2.20 2.21)
LEGACY=(2.16-legacy 2.17-legacy 2.18-legacy 2.19-legacy 2.20-legacy 2.21-legacy)
KERAS3=()
for minor in $(seq 0 15); do KERAS3+=("keras-3.$minor"); done
BACKENDS=(keras-3.15-jax keras-3.15-torch)
ALL=("${TF[@]}" "${LEGACY[@]}" "${KERAS3[@]}" "${BACKENDS[@]}")

names=()
uv_args=()
for arg in "$@"; do
    case "$arg" in
        -*)     uv_args+=("$arg") ;;
        tf)     names+=("${TF[@]}") ;;
        legacy) names+=("${LEGACY[@]}") ;;
        keras3) names+=("${KERAS3[@]}") ;;
        backends) names+=("${BACKENDS[@]}") ;;
        *)      names+=("$arg") ;;
    esac
done
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")

for name in "${names[@]}"; do
    case "$name" in
        keras-*) base="$name" ;;
        *)       base="tf-$name" ;;
    esac
    input="constraints/in/$base.in"
    output="constraints/$base.txt"
    override="constraints/in/$base.override"
    if [ ! -f "$input" ]; then
        echo "compile.sh: no input $input (known: ${ALL[*]})" >&2
        exit 1
    fi
    extras=(--extra cpu)
    case "$name" in
        *-legacy) extras+=(--extra legacy-keras) ;;
        *-jax)    extras+=(--extra jax) ;;
        *-torch)  extras+=(--extra torch) ;;
    esac
    overrides=()
    [ ! -f "$override" ] || overrides=(--override "$override")

    # A new Keras-axis file starts from the pins of the TensorFlow-axis file of its TF minor
    # (removed again if the resolution fails).
    seeded=""
    if [ ! -f "$output" ] && [[ $name == keras-* ]]; then
        tf_minor=$(sed -n 's/^tensorflow-cpu~=\(2\.[0-9]*\)\.0.*/\1/p' "$input" | head -n 1)
        if [ -n "$tf_minor" ] && [ -f "constraints/tf-$tf_minor.txt" ]; then
            grep -v '^keras==' "constraints/tf-$tf_minor.txt" >"$output"
            seeded="$output"
        fi
    fi

    cmd=("$UV" pip compile pyproject.toml "$input" "${extras[@]}" ${overrides[@]+"${overrides[@]}"}
         --python-version "$PYTHON_VERSION" --python-platform "$PYTHON_PLATFORM"
         --custom-compile-command "bash constraints/compile.sh $name"
         --quiet -o "$output" ${uv_args[@]+"${uv_args[@]}"})
    { printf '+'; printf ' %q' "${cmd[@]}"; printf '\n'; } >&2
    if ! "${cmd[@]}"; then
        [ -z "$seeded" ] || rm -f "$seeded"
        echo "compile.sh: resolving $output failed" >&2
        exit 1
    fi

    # Spell out the underlying uv call under uv's header (and, with an override, how to install),
    # and make sure the project itself (an editable/local install) never ends up pinned in a
    # constraints file.
    override_arg=""
    [ ${#overrides[@]} -eq 0 ] || override_arg=" --override $override"
    raw="uv pip compile pyproject.toml $input ${extras[*]}$override_arg --python-version $PYTHON_VERSION --python-platform $PYTHON_PLATFORM -o $output"
    install=""
    [ ${#overrides[@]} -eq 0 ] || install="UV_OVERRIDE=$override uv pip install -c $output -e .[cpu]  (pip cannot apply the override)"
    tmp=$(mktemp)
    awk -v raw="$raw" -v install="$install" '
        NR == 2 { print; print "#    (which runs: " raw ")"; if (install != "") print "#    install with: " install; next }
        /^-e[ =]/ || /file:\/\// || /^kmask[ =@]/ { next }
        { print }
    ' "$output" >"$tmp"
    mv "$tmp" "$output"
done
