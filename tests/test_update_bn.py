"""Re-estimated BatchNorm running statistics (networks/running_statistics.py) and tools/update_bn.py."""
import filecmp

import numpy as np
import paddle
import pytest

from ppix2pix import build
from ppix2pix.cli.update_bn import main as update_bn_main
from ppix2pix.config import load_config
from ppix2pix.networks.running_statistics import batch_norm_layers, reestimate_running_statistics
from ppix2pix.weights import load_generator


def tiny_generator(overrides):
    paddle.seed(0)
    return build.generator(load_config(None, overrides)["model"]["generator"])


def test_statistics_become_the_plain_average_of_the_batch_mean_and_unbiased_variance(tiny_overrides):
    net = tiny_generator(tiny_overrides)
    net.eval()
    norms = batch_norm_layers(net)
    seen = {id(layer): [] for layer in norms}
    handles = [layer.register_forward_pre_hook(lambda layer, inputs: seen[id(layer)].append(inputs[0].numpy()))
               for layer in norms]
    weights = {name: value.numpy().copy() for name, value in net.state_dict().items()
               if not name.endswith(("_mean", "_variance"))}
    rng = np.random.default_rng(0)
    batches = [paddle.to_tensor(rng.uniform(-1, 1, (1, 3, 64, 64)).astype("float32")) for _ in range(3)]
    assert reestimate_running_statistics(net, batches) == 3
    for handle in handles:
        handle.remove()
    for layer in norms:
        inputs = seen[id(layer)]
        assert len(inputs) == 3
        mean = np.mean([x.mean(axis=(0, 2, 3)) for x in inputs], axis=0)
        variance = np.mean([x.var(axis=(0, 2, 3), ddof=1) for x in inputs], axis=0)  # 4 values at 2 x 2 levels
        np.testing.assert_allclose(layer._mean.numpy(), mean, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer._variance.numpy(), variance, rtol=1e-4, atol=1e-5)
        assert layer._momentum == 0.9
    assert not net.training and not any(layer.training for layer in net.sublayers())
    for name, value in net.state_dict().items():
        if name in weights:
            np.testing.assert_array_equal(value.numpy(), weights[name], err_msg=name)


def test_a_network_without_batch_norm_or_batches_is_refused(tiny_overrides):
    with pytest.raises(ValueError, match="no BatchNorm"):
        reestimate_running_statistics(tiny_generator(tiny_overrides + ["model.generator.norm_type=instance"]), [])
    with pytest.raises(ValueError, match="no batches"):
        reestimate_running_statistics(tiny_generator(tiny_overrides), [])


def statistics(path):
    net, _ = load_generator(path)
    return np.concatenate([np.concatenate([layer._mean.numpy(), layer._variance.numpy()])
                           for layer in batch_norm_layers(net)])


def test_cli_writes_a_generator_with_new_statistics_and_leaves_the_checkpoint(tmp_path, tiny_checkpoint, ab_folder,
                                                                              capsys):
    checkpoint = tiny_checkpoint(f"dataset.train.dataroot={ab_folder}")
    kept = tmp_path / "kept.pdparams"
    kept.write_bytes(open(checkpoint, "rb").read())
    first, second = str(tmp_path / "bn1.pdparams"), str(tmp_path / "bn2.pdparams")
    for output in (first, second):
        assert update_bn_main(["--checkpoint", checkpoint, "--output", output, "--batches", "5"]) == 0
    out = capsys.readouterr().out
    assert "re-estimating 9 BatchNorm layers over 5 batches of 1 from 12 training pairs" in out
    assert filecmp.cmp(checkpoint, str(kept), shallow=False)
    assert not np.allclose(statistics(first), statistics(checkpoint))  # fresh init: mean 0, variance 1
    assert load_generator(first)[1]["model"]["test_mode"] == "eval"
    assert load_generator(checkpoint)[1]["model"]["test_mode"] == "paper"
    np.testing.assert_array_equal(statistics(first), statistics(second))  # seeded order, jitter and dropout


@pytest.mark.parametrize("extra,expected", [
    (["--batches", "0"], "--batches must be at least 1"),
    (["--dataroot", "no_such_folder"], "fix the path given to --dataroot"),
    (["-o", "model.direction=BtoA"], "only dataset.train.* settings can change"),
])
def test_user_errors(tmp_path, tiny_checkpoint, ab_folder, capsys, extra, expected):
    checkpoint = tiny_checkpoint(f"dataset.train.dataroot={ab_folder}")
    assert update_bn_main(["--checkpoint", checkpoint, "--output", str(tmp_path / "o.pdparams"), *extra]) == 2
    assert expected in capsys.readouterr().err


def test_instance_norm_and_overwriting_the_checkpoint_are_refused(tmp_path, tiny_checkpoint, ab_folder, capsys):
    instance = tiny_checkpoint(f"dataset.train.dataroot={ab_folder}", "model.generator.norm_type=instance")
    assert update_bn_main(["--checkpoint", instance, "--output", str(tmp_path / "o.pdparams")]) == 2
    assert "norm_type 'instance', not batch" in capsys.readouterr().err
    checkpoint = tiny_checkpoint(f"dataset.train.dataroot={ab_folder}")
    assert update_bn_main(["--checkpoint", checkpoint, "--output", checkpoint]) == 2
    assert "is the checkpoint itself" in capsys.readouterr().err


def test_dataroot_replaces_every_pair_source_of_the_split(tmp_path, ab_folder):
    """--dataroot wins over a config's A/B folders and pair list (eval's test split and update_bn's train split)."""
    import argparse

    from ppix2pix.cli.common import split_config
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("a.png\tb.png\n")
    for split in ("train", "test"):
        cfg = load_config(None, [f"dataset.{split}.pair_list={pairs}"])
        args = argparse.Namespace(dataroot=ab_folder, opt=[])
        section = split_config(cfg, args, split)["dataset"][split]
        assert section["dataroot"] == ab_folder and section["pair_list"] is None
