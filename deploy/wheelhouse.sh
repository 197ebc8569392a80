#!/usr/bin/env bash
# Fill deploy/wheels/ with wheels of Flowdesk's runtime dependencies and its build
# backend, for `docker build --build-arg PIP_INSTALL_OPTS=--no-index` where the build
# cannot reach a package index. Flowdesk itself is built inside the image from source.
#
# The wheels must suit the image's Python (3.11) and platform: run this with a
# Python 3.11 on Linux of the same architecture as the image.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
out="$root/deploy/wheels"
reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT

"$python" - "$root/pyproject.toml" >"$reqs" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as file:
    project = tomllib.load(file)
# The runtime dependencies only (no dev extra), and what builds the project's wheel.
for requirement in project["project"]["dependencies"] + project["build-system"]["requires"]:
    print(requirement)
PY

"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "use Python 3.11, as in the image"'
mkdir -p "$out"
# pip evaluates markers for the Python running it, not the image's: redis needs
# async-timeout below Python 3.11.3, and Debian bookworm's python3 is 3.11.2.
"$python" -m pip wheel --wheel-dir "$out" --requirement "$reqs" wheel 'async-timeout>=4.0.3'
echo "wheels in $out: $(find "$out" -name '*.whl' | wc -l)"
