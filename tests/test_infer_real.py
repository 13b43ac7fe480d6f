"""End to end on real facades pairs with a full-size unet_256 (random weights): infer, export parity, eval."""
import json
import os

import numpy as np
import paddle
import pytest

from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.cli.evaluate import main as eval_main
from ppix2pix.cli.export import main as export_main
from ppix2pix.cli.infer import main as infer_main
from ppix2pix.config import load_config
from ppix2pix.data.image_io import read_image
from ppix2pix.pix2pix import Pix2PixModel
from ppix2pix.translator import Translator

pytestmark = pytest.mark.slow


@pytest.fixture
def facades_checkpoint(tmp_path):
    paddle.seed(0)
    cfg = load_config(None, ["model.direction=BtoA"])  # labels -> photo, the paper's facades setting
    path = str(tmp_path / "unet_256.pdparams")
    save_checkpoint({"netG": Pix2PixModel(cfg, is_train=False).netG.state_dict(), "config": cfg}, path)
    return path


def test_infer_export_and_eval_on_facades(tmp_path, facades_checkpoint, shared_data):
    test_folder = os.path.join(shared_data("facades"), "test")
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", facades_checkpoint, "--input", os.path.join(test_folder, "1?.jpg"),
                       "--output", str(out), "--side-by-side"]) == 0
    outputs = sorted(name for name in os.listdir(out) if name.endswith(".jpg"))
    assert outputs == [f"1{digit}.jpg" for digit in range(10)]
    assert read_image(str(out / "12.jpg")).shape == (256, 256, 3)
    assert read_image(str(out / "side_by_side" / "12.jpg")).shape == (256, 768, 3)

    exported = str(tmp_path / "exported")
    assert export_main(["--checkpoint", facades_checkpoint, "--output", exported, "--test-mode", "eval"]) == 0
    photo = read_image(os.path.join(test_folder, "1.jpg"))[:200, :300]  # 200 x 300 labels+photo crop
    eager = Translator.from_checkpoint(facades_checkpoint, test_mode="eval").translate([photo])[0]
    predicted = Translator.from_exported(exported).translate([photo])[0]
    assert predicted.shape == (200, 300, 3) and np.abs(eager - predicted).max() < 1e-4

    json_path = tmp_path / "metrics.json"
    assert eval_main(["--checkpoint", facades_checkpoint, "--dataroot", test_folder, "-o",
                      "dataset.test.max_dataset_size=6", "--json", str(json_path)]) == 0
    result = json.loads(json_path.read_text())
    assert result["count"] == 6 and 3 < result["metrics"]["psnr"] < 30 and -1 < result["metrics"]["ssim"] < 1
