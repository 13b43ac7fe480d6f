"""Slow end-to-end training on the real facades pairs (../shared/data/facades)."""
import pytest

from ppix2pix.config import load_config
from ppix2pix.engine import Trainer


@pytest.mark.slow
def test_facades_training_lowers_validation_l1(tmp_path, shared_data):
    facades = shared_data("facades")
    cfg = load_config("configs/facades.yaml", [
        f"dataset.train.dataroot={facades}/train", f"dataset.test.dataroot={facades}/test",
        "model.generator.num_downs=6", "model.generator.ngf=32", "model.discriminator.ndf=32",
        "dataset.train.load_size=72", "dataset.train.crop_size=64", "dataset.train.batch_size=4",
        "dataset.train.num_workers=0", "dataset.test.crop_size=64", "dataset.test.batch_size=8",
        "validate.max_images=40", "validate.interval=1", "model.test_mode=eval", "total_iters=300",
        "log_config.interval=50", f"output_dir={tmp_path}/out"])
    trainer = Trainer(cfg)
    untrained = trainer.evaluate()["l1"]
    history = trainer.train()
    trained = history[-1]["l1"]
    assert trained < 0.75 * untrained, (untrained, [round(r["l1"], 4) for r in history])
