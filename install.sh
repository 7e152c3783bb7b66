#!/usr/bin/env bash
# Set up TrackZoo in a virtual environment (.venv by default) on a fresh Linux machine, with or without a GPU.
#   bash install.sh            # then use .venv/bin/python, or `source .venv/bin/activate`
#   bash install.sh --with-vot # also the VOT toolkit for external/vot (requirements-vot.txt)
#   bash install.sh --with-photos  # also Tux Paint's stamps (Debian), the photographs of `quickstart.py --photos`
# Variables: PYTHON (interpreter to build the venv from, default python3), VENV (its folder, default .venv).
set -euo pipefail
WITH_VOT=0
WITH_PHOTOS=0
for arg in "$@"; do
  case "$arg" in
    --with-vot) WITH_VOT=1 ;;
    --with-photos) WITH_PHOTOS=1 ;;
    *) echo "error: unknown option $arg (known: --with-vot, --with-photos)" >&2; exit 2 ;;
  esac
done
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

# `quickstart.py --photos` trains on the photographs among Tux Paint's stamps (GPL-2, about 160 MB); without them
# it trains on procedural objects and says so. Opt-in: the default quickstart does not use them.
if [ "$WITH_PHOTOS" = 1 ] && [ ! -d /usr/share/tuxpaint/stamps ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends tuxpaint-stamps-default >/dev/null) \
      || echo "notice: could not install tuxpaint-stamps-default; quickstart --photos will use procedural objects"
  else
    echo "notice: tuxpaint-stamps-default not installed (Debian/Ubuntu: sudo apt-get install tuxpaint-stamps-default); quickstart --photos will use procedural objects"
  fi
fi

"$PYTHON" -m venv "$VENV"
# An empty find-links list keeps pip on the package index: a locally provided CPU-only torch wheel would not match
# the torchvision build that the index serves (the index's regular build runs on CPU too).
PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet --upgrade pip
PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet -r requirements.txt
# Test-only: the official toolkits the test suite compares against.
PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet -r requirements-test.txt
if [ "$WITH_VOT" = 1 ]; then
  # the toolkit without its opencv-python requirement (see requirements-vot.txt)
  PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet -r requirements-vot.txt
  PIP_FIND_LINKS= "$VENV/bin/pip" install --quiet --no-deps vot-toolkit==0.9.0
fi
"$VENV/bin/python" -c "import torch, torchvision, timm, cv2; print(f'TrackZoo environment ready: torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}')"
