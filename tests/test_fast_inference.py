import pytest
import torch
from conftest import recommended_generator, wake_global_parts
from conftest import unit_scale_generator as generator
from torch import nn

from msiagan.archs import MSIAGenerator, PatchGANDiscriminator
from msiagan.inference import enhance_tensor
from msiagan.inference.fast_inference import FastMSIAGenerator, optimize_for_inference
from msiagan.utils.profiling import count_macs


def eager(net, x):
    with torch.no_grad():
        return net(x)


@pytest.mark.parametrize('act', ['none', 'lrelu', 'gelu'])
@pytest.mark.parametrize('size', [(37, 53), (5, 3), (16, 24), (1, 1)])
def test_optimized_equals_eager(act, size):
    net = generator(act)
    fast = optimize_for_inference(net)
    assert isinstance(fast, FastMSIAGenerator)
    x = torch.rand(2, 3, *size)
    expected = eager(net, x)
    if size[0] > 1:  # the comparison means something: the output follows the input
        assert (expected - eager(net, torch.rand(2, 3, *size))).abs().max() > 0.1
    out = fast(x)
    assert out.shape == expected.shape and out.is_contiguous()
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize('act', ['none', 'lrelu'])
@pytest.mark.parametrize('size', [(37, 53), (5, 3), (1, 1)])
def test_blurred_ae3_up_equals_eager(act, size):
    """resample 'blurred_ae3_up': the blurs after AE3's up steps, in raster order between quadtree-ordered steps."""
    net = wake_global_parts(generator(act, resample='blurred_ae3_up', global_branch=True, coarse_blocks=1))
    strided = wake_global_parts(generator(act, global_branch=True, coarse_blocks=1))
    fast = optimize_for_inference(net)
    assert isinstance(fast, FastMSIAGenerator)
    x = torch.rand(2, 3, *size)
    expected = eager(net, x)
    assert (expected - eager(strided, x)).abs().max() > 0.01  # the same weights: the blurs show
    torch.testing.assert_close(fast(x), expected, atol=1e-4, rtol=0)
    image = torch.rand(1, 3, 70, 90)
    whole = enhance_tensor(net, image, 0)
    for tile in (0, 32):  # tiles with receptive_radius of context give the whole image's result
        torch.testing.assert_close(enhance_tensor(fast, image, tile, net.receptive_radius), whole, atol=1e-4, rtol=0)


@pytest.mark.parametrize('act', ['none', 'lrelu'])
@pytest.mark.parametrize('options', [{'global_context': True}, {'global_branch': True},
                                     {'global_context': True, 'global_branch': True, 'coarse_blocks': 2}])
def test_global_features_are_kept(act, options):
    net = wake_global_parts(generator(act, **options))
    fast = optimize_for_inference(net)
    x, other = torch.rand(2, 3, 21, 35), torch.rand(2, 3, 40, 40)
    with torch.no_grad():
        global_features = net.global_features(other)
        for place, (scale, shift) in fast.global_features(other).items():
            assert torch.equal(scale, global_features[place][0]) and torch.equal(shift, global_features[place][1])
        assert (net(x) - net(x, global_features)).abs().max() > 0.01  # the global features change the output
        torch.testing.assert_close(fast(x), net(x), atol=1e-4, rtol=0)
        torch.testing.assert_close(fast(x, global_features), net(x, global_features), atol=1e-4, rtol=0)


@pytest.mark.parametrize('size', [(37, 53), (5, 3), (1, 1)])
def test_recommended_generator(size):
    """options/train/recommended_gan_lol.yml's generator (global branch, coarse blocks), at sizes down to one pixel."""
    net = recommended_generator(num_feat=16)
    x = torch.rand(2, 3, *size)
    torch.testing.assert_close(optimize_for_inference(net)(x), eager(net, x), atol=1e-4, rtol=0)


@pytest.mark.parametrize('act', ['none', 'lrelu'])
def test_coarse_blocks_are_kept(act):
    net = generator(act, coarse_blocks=2)
    fast = optimize_for_inference(net)
    x = torch.rand(2, 3, 45, 67)
    torch.testing.assert_close(fast(x), eager(net, x), atol=1e-4, rtol=0)
    assert fast.receptive_radius == net.receptive_radius == 42


@pytest.mark.parametrize('num_feat', [16, 64])  # which folds pay off depends on num_feat
def test_folding_is_exact_in_float64_and_saves_work(num_feat):
    """act 'none': the folded linear stages give the eager result up to float64 rounding, in fewer MACs."""
    net = generator('none', num_feat).double()
    fast = optimize_for_inference(net)
    x = torch.rand(1, 3, 40, 48, dtype=torch.float64)
    torch.testing.assert_close(fast(x), eager(net, x), atol=1e-12, rtol=0)
    assert count_macs(fast, x) < 0.8 * count_macs(net, x)
    nonlinear = generator('lrelu', num_feat)
    assert count_macs(optimize_for_inference(nonlinear), x.float()) == count_macs(nonlinear, x.float())


# Multiply-adds per input pixel of the paper-size generator (num_feat 64); any H, W that are multiples of 8
# cost exactly this per pixel, so at 600x400 (240,000 pixels): 25.74 GMAC eager, 16.34 folded (docs/speed.md).
MACS_PER_PIXEL = {'eager': 107_264, 'folded': 68_096}


def test_folding_cuts_the_paper_generator_from_25_7_to_16_3_gmac_at_600x400():
    net = MSIAGenerator(act='none')
    x = torch.rand(1, 3, 16, 24)
    assert count_macs(net, x) == MACS_PER_PIXEL['eager'] * 16 * 24
    assert count_macs(optimize_for_inference(net), x) == MACS_PER_PIXEL['folded'] * 16 * 24
    assert round(MACS_PER_PIXEL['eager'] * 240_000 / 1e9, 1) == 25.7
    assert round(MACS_PER_PIXEL['folded'] * 240_000 / 1e9, 1) == 16.3


@pytest.mark.parametrize('act', ['none', 'lrelu'])
def test_paper_size_generator_agrees_to_float32_rounding(act):
    """As benchmark_speed.py builds it (seeded default weights, num_feat 64): docs/speed.md: "to about 1e-7"."""
    torch.manual_seed(0)
    net = MSIAGenerator(act=act).eval()
    x = torch.rand(1, 3, 64, 96)
    expected = eager(net, x)
    assert expected.abs().max() > 0.05  # differences of 1e-7 are a few units in the last place here
    assert (optimize_for_inference(net)(x) - expected).abs().max() < 5e-7


def test_other_channel_counts():
    net = generator('lrelu', num_in_ch=1, num_out_ch=2)
    x = torch.rand(1, 1, 19, 30)
    torch.testing.assert_close(optimize_for_inference(net)(x), eager(net, x), atol=1e-4, rtol=0)


def test_input_layouts():
    net = generator('lrelu')
    fast = optimize_for_inference(net)
    x = torch.rand(2, 3, 32, 40)
    for layout in (x.contiguous(memory_format=torch.channels_last), x[:, :, 3:27, 5:], x.transpose(2, 3)):
        torch.testing.assert_close(fast(layout), eager(net, layout), atol=1e-4, rtol=0)


def test_kept_buffers_never_leak_into_results():
    """Buffers reused across calls and sizes: earlier outputs stay intact, every call stays exact."""
    net = generator('lrelu')
    fast = optimize_for_inference(net)
    small, large = torch.rand(1, 3, 24, 32), torch.rand(2, 3, 41, 35)
    first = fast(small)
    first_copy = first.clone()
    for x in (small * 0.5, large, small, large):
        torch.testing.assert_close(fast(x), eager(net, x), atol=1e-4, rtol=0)
    assert torch.equal(first, first_copy)


@pytest.mark.parametrize('which', ['paper', 'recommended'])
def test_tiled_enhancement_and_inference_mode(which):
    """As enhance_tensor uses it (no_grad, clamp_ in place), also after a call under inference_mode."""
    net = generator('none') if which == 'paper' else recommended_generator()
    fast = optimize_for_inference(net)
    x = torch.rand(1, 3, 70, 90)
    with torch.inference_mode():
        fast(x)
    for tile in (0, 32):
        torch.testing.assert_close(enhance_tensor(fast, x, tile, 16), enhance_tensor(net, x, tile, 16),
                                   atol=1e-4, rtol=0)


def test_weights_are_copied():
    net = generator('none')
    fast = optimize_for_inference(net)
    x = torch.rand(1, 3, 16, 16)
    before = fast(x)
    with torch.no_grad():
        net.conv_last.bias.add_(1)
    torch.testing.assert_close(fast(x), before)


class Subclass(MSIAGenerator):
    def forward(self, x):
        return super().forward(x) * 2


@pytest.mark.parametrize('module', [nn.Conv2d(3, 3, 3, padding=1), PatchGANDiscriminator(), Subclass(num_feat=8)])
def test_other_modules_run_eager(module):
    assert optimize_for_inference(module) is module
