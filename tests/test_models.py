"""Networks: exact parameter counts, shapes, receptive fields, initialization, structure rules, test-time modes."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from ppix2pix.networks import (NLayerDiscriminator, ResnetGenerator, UnetGenerator, build_discriminator,
                             build_generator, count_parameters, learnable_parameters, receptive_field,
                             inference_mode)

# DESIGN.md section 1: trainable parameter counts of the reference implementation.
REFERENCE_COUNTS = [
    (build_generator, {"name": "unet_256", "norm_type": "batch"}, 54_413_955),
    (build_generator, {"name": "unet_256", "norm_type": "instance"}, 54_409_603),
    (build_generator, {"name": "unet_128", "norm_type": "batch"}, 41_828_995),
    (build_generator, {"name": "resnet_9blocks", "norm_type": "instance"}, 11_378_179),
    (build_generator, {"name": "resnet_9blocks", "norm_type": "batch"}, 11_383_427),
    (build_generator, {"name": "resnet_6blocks", "norm_type": "instance"}, 7_837_699),
    (build_discriminator, {"name": "NLayerDiscriminator", "n_layers": 3, "norm_type": "batch"}, 2_768_705),
    (build_discriminator, {"name": "PixelDiscriminator", "norm_type": "batch"}, 9_024),
]


@pytest.mark.parametrize("builder,section,expected", REFERENCE_COUNTS,
                         ids=[f"{s['name']}-{s['norm_type']}" for _, s, _ in REFERENCE_COUNTS])
def test_trainable_parameter_counts_match_reference(builder, section, expected):
    net = builder(section)
    assert count_parameters(net) == expected
    # BatchNorm running statistics are parameters in Paddle but never trained.
    trainable = sum(int(p.size) for p in net.parameters() if not p.stop_gradient)
    assert trainable == expected


def test_patchgan_output_is_30x30_for_256_input():
    net = NLayerDiscriminator(input_nc=6, ndf=8)
    assert net(paddle.zeros([2, 6, 256, 256])).shape == [2, 1, 30, 30]


def test_pixelgan_judges_every_pixel():
    net = NLayerDiscriminator(input_nc=6, ndf=8, n_layers=0)
    assert net(paddle.zeros([1, 6, 40, 24])).shape == [1, 1, 40, 24]


@pytest.mark.parametrize("n_layers,expected", [(0, 1), (1, 16), (2, 34), (3, 70), (4, 142), (5, 286)])
def test_receptive_field_formula(n_layers, expected):
    assert receptive_field(n_layers) == expected


@pytest.mark.parametrize("n_layers", [0, 1, 3, 5])
def test_receptive_field_measured_by_gradient(n_layers):
    """Backpropagate one central logit and measure the input region that influences it."""
    paddle.seed(1)
    net = NLayerDiscriminator(input_nc=2, ndf=2, n_layers=n_layers, norm_type="none")
    size = max(32, receptive_field(n_layers) + 40)
    x = paddle.randn([1, 2, size, size])
    x.stop_gradient = False
    out = net(x)
    center = out[0, 0, out.shape[2] // 2, out.shape[3] // 2]
    (grad,) = paddle.grad(center, x)
    rows = np.nonzero(np.abs(grad.numpy()[0]).sum(axis=(0, 2)))[0]
    cols = np.nonzero(np.abs(grad.numpy()[0]).sum(axis=(0, 1)))[0]
    assert rows.max() - rows.min() + 1 == receptive_field(n_layers)
    assert cols.max() - cols.min() + 1 == receptive_field(n_layers)


def test_discriminator_rejects_unsupported_depth():
    with pytest.raises(ValueError, match="n_layers must be in 0..5"):
        NLayerDiscriminator(n_layers=6)


def test_weight_init_statistics():
    paddle.seed(0)
    net = build_generator({"name": "unet_256", "norm_type": "batch"})
    conv_weights = np.concatenate([layer.weight.numpy().ravel() for layer in net.sublayers()
                                   if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose))])
    assert abs(conv_weights.mean()) < 1e-3 and abs(conv_weights.std() - 0.02) < 5e-4
    norms = [layer for layer in net.sublayers() if isinstance(layer, nn.BatchNorm2D)]
    gammas = np.concatenate([layer.weight.numpy() for layer in norms])
    assert abs(gammas.mean() - 1.0) < 3e-3 and abs(gammas.std() - 0.02) < 3e-3
    assert all(np.all(layer.bias.numpy() == 0) for layer in norms)
    biases = [layer.bias for layer in net.sublayers() if isinstance(layer, nn.Conv2DTranspose)
              and layer.bias is not None]
    assert len(biases) == 1 and np.all(biases[0].numpy() == 0)


def _convs(net):
    return [layer for layer in net.sublayers() if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose))]


def test_unet_bias_rule_batch_norm():
    """With BatchNorm only the final up conv has a bias, not even the outermost down conv."""
    net = UnetGenerator(num_downs=6, ngf=4, norm_type="batch")
    with_bias = [layer for layer in _convs(net) if layer.bias is not None]
    assert with_bias == [net.model.model[3]]
    assert net.model.model[0].bias is None


def test_unet_instance_norm_has_all_biases_and_no_affine():
    net = UnetGenerator(num_downs=6, ngf=4, norm_type="instance")
    assert all(layer.bias is not None for layer in _convs(net))
    assert all(not layer.parameters() for layer in net.sublayers() if isinstance(layer, nn.InstanceNorm2D))


@pytest.mark.parametrize("num_downs", [5, 6, 8])
def test_unet_dropout_in_num_downs_minus_5_blocks(num_downs):
    net = UnetGenerator(num_downs=num_downs, ngf=4)
    assert sum(isinstance(layer, nn.Dropout) for layer in net.sublayers()) == num_downs - 5
    assert not any(isinstance(layer, nn.Dropout)
                   for layer in UnetGenerator(num_downs=num_downs, ngf=4, use_dropout=False).sublayers())


def test_unet_innermost_and_outermost_downs_have_no_norm():
    net = UnetGenerator(num_downs=5, ngf=4)
    norms = [layer for layer in net.sublayers() if isinstance(layer, nn.BatchNorm2D)]
    # 5 levels: down norms on the 3 middle levels, up norms on all but the outermost.
    assert len(norms) == 3 + 4


@pytest.mark.parametrize("output_nc", [1, 2, 3])
def test_generator_channels_are_configurable(output_nc):
    unet = UnetGenerator(input_nc=1, output_nc=output_nc, num_downs=5, ngf=4)
    assert unet(paddle.zeros([2, 1, 32, 64])).shape == [2, output_nc, 32, 64]
    resnet = ResnetGenerator(input_nc=1, output_nc=output_nc, ngf=4, n_blocks=2)
    assert resnet(paddle.zeros([1, 1, 24, 40])).shape == [1, output_nc, 24, 40]


def test_generator_output_is_in_tanh_range():
    out = UnetGenerator(num_downs=5, ngf=4)(paddle.randn([1, 3, 32, 32]) * 10)
    assert float(out.abs().max()) <= 1.0


def test_unet_wrong_size_names_the_required_multiple():
    net = UnetGenerator(num_downs=6, ngf=4)
    with pytest.raises(ValueError, match="multiples of 64, got 96x64"):
        net(paddle.zeros([1, 3, 96, 64]))


def test_resnet_wrong_size_names_the_required_multiple():
    with pytest.raises(ValueError, match="multiples of 4, got 30x32"):
        ResnetGenerator(ngf=4, n_blocks=1)(paddle.zeros([1, 3, 30, 32]))


@pytest.mark.parametrize("padding_type", ["reflect", "replicate", "zero"])
def test_resnet_padding_types(padding_type):
    net = ResnetGenerator(ngf=4, n_blocks=1, padding_type=padding_type)
    assert net(paddle.zeros([1, 3, 16, 16])).shape == [1, 3, 16, 16]


def test_builder_rejects_conflicting_preset_and_unknown_arguments():
    with pytest.raises(ValueError, match="fixes num_downs=8"):
        build_generator({"name": "unet_256", "num_downs": 7})
    with pytest.raises(ValueError, match="does not take ngff"):
        build_generator({"name": "UnetGenerator", "ngff": 3})
    with pytest.raises(ValueError, match="unknown generator name"):
        build_generator({"name": "unet_512"})


def test_learnable_parameters_ignore_freezing_and_bn_statistics():
    net = NLayerDiscriminator(ndf=4)
    before = len(learnable_parameters(net))
    for parameter in net.parameters():
        parameter.stop_gradient = True
    assert len(learnable_parameters(net)) == before
    assert not any(p.name.endswith(("_mean", "_variance")) for p in learnable_parameters(net))


def _bn_statistics(net):
    return [layer._mean.numpy().copy() for layer in net.sublayers() if isinstance(layer, nn.BatchNorm2D)]


def test_paper_mode_uses_dropout_and_batch_statistics_without_touching_running_stats():
    paddle.seed(0)
    net = UnetGenerator(num_downs=6, ngf=4)
    net.eval()
    x = paddle.randn([2, 3, 64, 64])
    stats = _bn_statistics(net)
    with paddle.no_grad(), inference_mode(net, "paper"):
        first, second = net(x).numpy(), net(x).numpy()
    assert not np.allclose(first, second)  # dropout is active
    assert all(np.array_equal(a, b) for a, b in zip(stats, _bn_statistics(net)))
    assert not net.training  # previous mode restored
    with paddle.no_grad(), inference_mode(net, "eval"):
        third, fourth = net(x).numpy(), net(x).numpy()
    np.testing.assert_array_equal(third, fourth)


def test_paper_mode_normalizes_with_batch_statistics():
    """In paper mode BN ignores the running statistics; in eval mode it uses them."""
    paddle.seed(0)
    net = UnetGenerator(num_downs=5, ngf=4, use_dropout=False)
    x = paddle.randn([2, 3, 32, 32])
    with paddle.no_grad():
        net.train()
        batch_stats_output = net(x).numpy()  # also moves the running stats a little
        for layer in net.sublayers():
            if isinstance(layer, nn.BatchNorm2D):
                layer._mean.set_value(paddle.full_like(layer._mean, 5.0))
        with inference_mode(net, "paper"):
            np.testing.assert_allclose(net(x).numpy(), batch_stats_output, atol=1e-5)
        with inference_mode(net, "eval"):
            assert not np.allclose(net(x).numpy(), batch_stats_output, atol=1e-3)


def test_unknown_test_mode_is_rejected():
    with pytest.raises(ValueError, match="paper, eval"):
        with inference_mode(UnetGenerator(num_downs=5, ngf=4), "train"):
            pass


def test_norm_none_convs_have_no_bias_like_the_reference():
    """The reference sets use_bias only for InstanceNorm, so with norm 'none' only the output convs keep a bias."""
    unet = UnetGenerator(num_downs=5, ngf=4, norm_type="none")
    assert [layer for layer in _convs(unet) if layer.bias is not None] == [unet.model.model[3]]
    patch = NLayerDiscriminator(ndf=4, norm_type="none")
    assert [i for i, layer in enumerate(patch.model) if getattr(layer, "bias", None) is not None] == [0, 11]
