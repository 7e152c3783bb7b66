#!/usr/bin/env bash
# Set up TrackZoo in a virtual environment (.venv by default) on a fresh Linux machine, with or without a GPU.
#   bash install.sh            # then use .venv/bin/python, or `source .venv/bin/activate`
# Variables: PYTHON (interpreter to build the venv from, default python3), VENV (its folder, default .venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# jpeg4py decodes through the system libturbojpeg; without it TrackZoo falls back to OpenCV decoding.
if ! ldconfig -p 2>/dev/null | grep -q libturbojpeg; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq libturbojpeg0 >/dev/null) \
      || echo "notice: could not install libturbojpeg0; images will be decoded with OpenCV"
  else
    echo "notice: libturbojpeg not found (Debian/Ubuntu: sudo apt-get install libturbojpeg0); using OpenCV decoding"
  fi
fi

"$PYTHON" -m venv "$VENV"
# An empty find-links list keeps pip on the package index: a locally provided CPU-only torch wheel would not match
# the torchvision build that the index serves (the index's regular build runs on CPU too).
PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet --upgrade pip
PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet -r requirements.txt
# Test-only: the official toolkits the test suite compares against.
PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet -r requirements-test.txt
"$VENV/bin/python" -c "import torch, torchvision, timm, cv2; print(f'TrackZoo environment ready: torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}')"
