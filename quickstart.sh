#!/usr/bin/env bash
# ppix2pix quickstart: a virtual environment, the CPU install, the built-in demo data, a few minutes of training and
# a results page. Run from anywhere: bash quickstart.sh [extra tools/train.py arguments, e.g. -o epochs=2]
#
#   PPIX2PIX_NO_VENV=1   use the current Python environment instead of creating .venv
#   PPIX2PIX_WORKDIR=DIR where data/demo and output/demo go (default: the repository)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${PPIX2PIX_NO_VENV:-}" ]; then
  echo "== creating $ROOT/.venv and installing ppix2pix for CPU"
  python3 -m venv "$ROOT/.venv"
  . "$ROOT/.venv/bin/activate"
  python -m pip install -q --upgrade pip
  python -m pip install -q -e "$ROOT[cpu,test]"
fi
cd "${PPIX2PIX_WORKDIR:-$ROOT}"
echo "== building the demo data"
python "$ROOT/tools/prepare_data.py" demo --out data/demo
echo "== training (configs/demo.yaml)"
python "$ROOT/tools/train.py" -c "$ROOT/configs/demo.yaml" "$@"
echo "== translating the demo test images"
python "$ROOT/tools/infer.py" --checkpoint output/demo/netG.pdparams --input data/demo/test \
  --output output/demo/results --side-by-side \
  --title "Denoising photo crops the model never saw: noisy input, model output, the clean photo"
echo "== done: open $(pwd)/output/demo/results/index.html"
