from os import path as osp

import pytest
import torch
from basicsr.archs import build_network
from conftest import REPO, recommended_generator, wake_global_parts

from msiagan.archs import MSIAGenerator, PatchGANDiscriminator
from msiagan.archs.global_branch import modulate, whole_image_modulations
from msiagan.inference import load_network_options
from msiagan.utils.errors import InputError
from msiagan.utils.profiling import count_gmac, count_macs


def count(net, trainable_only=False):
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


def test_paper_parameter_counts():
    generator = MSIAGenerator()
    assert count(generator) == 666371
    assert count(generator.ae1) == count(generator.ae2) == 166080
    assert count(PatchGANDiscriminator(), trainable_only=True) == 2769601


@pytest.mark.parametrize('act', ['none', 'lrelu', 'gelu'])
@pytest.mark.parametrize('size', [(37, 53), (8, 8), (5, 3), (1, 1)])
def test_generator_output_has_input_size(act, size):
    net = MSIAGenerator(num_feat=8, act=act).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, *size)


def test_gradients_reach_every_generator_parameter():
    torch.manual_seed(0)
    net = MSIAGenerator(num_feat=8, act='lrelu')
    net(torch.rand(2, 3, 24, 40)).square().mean().backward()
    no_grad = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


def test_global_context_starts_as_the_plain_generator_and_sees_the_whole_image():
    torch.manual_seed(0)
    plain = MSIAGenerator(num_feat=8, act='lrelu').eval()
    with_context = MSIAGenerator(num_feat=8, act='lrelu', global_context=True).eval()
    assert count(MSIAGenerator(global_context=True)) - count(MSIAGenerator()) == 8768
    missing = with_context.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(name.startswith('context.') for name in missing)
    x = torch.rand(1, 3, 64, 96)
    far = x.clone()
    far[..., :, 64:] *= 0.5  # pixels more than 18 columns away from column 30
    with torch.no_grad():
        assert torch.equal(with_context(x), plain(x))  # the context's last layer starts at zero
        assert torch.equal(plain(far)[..., 30], plain(x)[..., 30])  # a receptive radius of 18
        with_context.context.mlp[-1].weight.normal_(0, 0.5)
        assert (with_context(far)[..., 30] - with_context(x)[..., 30]).abs().max() > 1e-3


def reach_by_phase(net, axis):
    """For an output pixel at each of the 8 phases of the sampling grid along ``axis`` (-1: columns, -2: rows):
    how far back and how far ahead along that axis the input pixels lie that its value depends on."""
    first = 8 * (net.receptive_radius // 8 + 2)  # a grid line with receptive_radius pixels on either side
    shape = [1, 3, 16, 16]
    shape[axis] = 2 * first + 8
    x = torch.rand(*shape, requires_grad=True)
    out = net(x, net.global_features(x.detach()))  # the whole image's global features held fixed, as a tile gets
    other_dims = tuple(d for d in range(4) if d != len(shape) + axis)
    reaches = []
    for position in range(first, first + 8):
        gradient, = torch.autograd.grad(out.select(axis, position).sum(), x, retain_graph=True)
        seen = torch.nonzero(gradient.abs().amax(dim=other_dims) > 0).flatten()
        reaches.append((position - seen.min().item(), seen.max().item() - position))
    return reaches


@pytest.mark.parametrize('coarse_blocks, global_branch, resample', [(0, False, 'strided'), (1, False, 'strided'),
                                                                    (3, False, 'strided'), (1, True, 'strided'),
                                                                    (0, False, 'blurred'), (1, True, 'blurred'),
                                                                    (0, False, 'blurred_ae3_up'),
                                                                    (1, True, 'blurred_ae3_up')])
def test_receptive_radius_is_exact(coarse_blocks, global_branch, resample):
    """Output pixels at each of the 8 grid phases depend on input rows and columns receptive_radius away and
    none further. Without coarse blocks an output pixel sees a window of 20 to 28 pixels a side, depending on
    its place in the 8-pixel grid, reaching up to 10 pixels one way and 18 the other (docs/differences.md)."""
    torch.manual_seed(0)
    net = wake_global_parts(MSIAGenerator(num_feat=8, act='lrelu', coarse_blocks=coarse_blocks,
                                          global_branch=global_branch, resample=resample).eval())
    for block in net.coarse:
        torch.nn.init.normal_(block.proj.weight, 0, 0.3)
    for axis in (-1, -2):
        reaches = reach_by_phase(net, axis)
        assert max(max(reach) for reach in reaches) == net.receptive_radius
        if coarse_blocks == 0 and not global_branch and resample == 'strided':
            widths = [back + ahead + 1 for back, ahead in reaches]
            assert (min(widths), max(widths)) == (20, 28) and max(min(reach) for reach in reaches) == 10


def test_coarse_blocks_start_as_the_plain_generator():
    torch.manual_seed(0)
    plain = MSIAGenerator(num_feat=8, act='lrelu', global_context=True).eval()
    coarse = MSIAGenerator(num_feat=8, act='lrelu', global_context=True, coarse_blocks=4).eval()
    assert count(MSIAGenerator(coarse_blocks=4)) - count(MSIAGenerator()) == 4 * 41088
    missing = coarse.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(name.startswith('coarse.') for name in missing)
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        assert torch.equal(coarse(x), plain(x))  # each block's last conv starts at zero
    assert plain.receptive_radius == 18 and coarse.receptive_radius == 138


def test_global_branch_starts_as_the_generator_without_it():
    """Its last layer starts at zero: weights trained without it (here with global_context, as the shipped ones)
    load and give exactly what they gave."""
    torch.manual_seed(0)
    without = MSIAGenerator(num_feat=8, act='lrelu', global_context=True, coarse_blocks=1).eval()
    with_branch = MSIAGenerator(num_feat=8, act='lrelu', global_context=True, coarse_blocks=1, global_branch=True)
    assert count(MSIAGenerator(global_branch=True)) - count(MSIAGenerator()) == 503936
    assert count(MSIAGenerator(num_feat=32, global_branch=True)) - count(MSIAGenerator(num_feat=32)) == 127040
    missing = with_branch.load_state_dict(without.state_dict(), strict=False).missing_keys
    assert missing and all(name.startswith('global_branch.') for name in missing)
    torch.nn.init.normal_(without.context.mlp[-1].weight, 0, 0.5)  # the context it is stacked on is not neutral
    with_branch.load_state_dict(without.state_dict(), strict=False)
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        assert torch.equal(with_branch.eval()(x), without(x))


def test_every_output_pixel_of_the_recommended_generator_depends_on_the_whole_image():
    """A change to the top-left 48x48 block, beyond the local reach, changes the bottom-right output pixel of the
    recommended generator, not of the paper's; every input pixel moves that output pixel."""
    recommended = recommended_generator()
    torch.manual_seed(0)
    paper = build_network({**load_network_options(osp.join(REPO, 'options', 'lol_gan_paper.yml')), 'num_feat': 8})
    x = torch.rand(1, 3, 160, 176)
    far = x.clone()
    far[..., :48, :48] = 1 - far[..., :48, :48]
    assert 48 + max(recommended.receptive_radius, paper.receptive_radius) < 160
    with torch.no_grad():
        assert (recommended(far) - recommended(x))[..., -1, -1].abs().max() > 1e-4
        assert torch.equal(paper.eval()(far)[..., -1, -1], paper(x)[..., -1, -1])
    x.requires_grad_(True)
    recommended(x)[..., -1, -1].sum().backward()
    assert (x.grad.abs().amax(dim=1) > 0).all()


def test_recommended_generator_costs_under_8_gmac():
    """The issue's bound, per 256x256 image, for the recommended options' num_feat and for 64 (counted on the meta
    device: shapes only)."""
    network_opt = load_network_options(osp.join(REPO, 'options', 'train', 'recommended_gan_lol.yml'))
    for num_feat, bound in ((network_opt['num_feat'], 2), (64, 8)):
        net = build_network({**network_opt, 'num_feat': num_feat}).to('meta')
        assert count_gmac(net, 256, 256, device='meta') < bound


def test_multiply_adds_at_256x256():
    """docs/differences.md: 7.03 GMAC at 256x256, and 0.042 more per coarse block (7.20 with 4). Multiples of 8 in H and
    W cost the same per pixel, so 32x32 is counted and scaled up by 64."""
    x = torch.zeros(1, 3, 32, 32)
    paper, coarse = (count_macs(MSIAGenerator(coarse_blocks=n), x) * 64 / 1e9 for n in (0, 4))
    assert round(paper, 2) == 7.03 and round(coarse, 2) == 7.20 and round((coarse - paper) / 4, 3) == 0.042


def test_variants_share_the_paper_parameter_count():
    assert count(MSIAGenerator(act='lrelu')) == count(MSIAGenerator(act='none'))


def test_paper_variant_is_linear_before_the_head():
    """act 'none' (released code): the features entering the head are a linear function of the input."""
    torch.manual_seed(0)
    net = MSIAGenerator(num_feat=8, act='none')
    features = []
    net.head.register_forward_hook(lambda module, inputs, output: features.append(inputs[0]))
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        net(x), net(y), net(x + y), net(torch.zeros(1, 3, 16, 16))
    fx, fy, fxy, f0 = features
    torch.testing.assert_close(fxy - f0, (fx - f0) + (fy - f0), atol=1e-5, rtol=1e-4)


def test_none_reads_as_the_linear_variant():
    """--force_yml network_g:act=none reaches the network as None (BasicSR's value parsing)."""
    assert isinstance(MSIAGenerator(num_feat=8, act=None).stem[1], torch.nn.Identity)


def test_unknown_activation_is_named():
    with pytest.raises(InputError, match="act 'swish'"):
        MSIAGenerator(act='swish')


def test_discriminator_sees_six_channels_and_outputs_patch_logits():
    net = PatchGANDiscriminator()
    out = net(torch.rand(2, 6, 256, 256))
    assert out.shape == (2, 1, 15, 15)
    assert out.min() < 0 < out.max()  # logits, no sigmoid


@pytest.mark.parametrize('std', [0.02, 0.2])
def test_discriminator_init_std(std):
    conv = PatchGANDiscriminator(init_std=std).body[2]
    assert conv.weight.std().item() == pytest.approx(std, rel=0.02)
    assert conv.bias.abs().max() == 0


def test_build_from_options():
    options = {'type': 'MSIAGenerator', 'num_in_ch': 1, 'num_out_ch': 2, 'num_feat': 8, 'act': 'gelu',
               'global_context': True, 'coarse_blocks': 2}
    net = build_network(options)
    assert isinstance(net, MSIAGenerator)
    assert net.stem[0].in_channels == 1 and net.conv_last.out_channels == 2
    assert all(conv.out_channels == 8 for conv in net.modules() if isinstance(conv, torch.nn.Conv2d)
               and conv is not net.conv_last)
    assert isinstance(net.stem[1], torch.nn.GELU) and isinstance(net.ae1.down[0][1], torch.nn.GELU)
    assert net.context is not None and len(net.coarse) == 2


def test_modulations_at_one_place_apply_one_after_the_other():
    first = {'head': (torch.full((1, 2, 1, 1), 2.0), torch.full((1, 2, 1, 1), 1.0))}
    then = {'head': (torch.full((1, 2, 1, 1), 3.0), torch.full((1, 2, 1, 1), -1.0)),
            'coarse': (torch.full((1, 2, 1, 1), 0.5), torch.zeros(1, 2, 1, 1))}
    combined = whole_image_modulations(torch.rand(1, 3, 4, 4), [lambda x, statistics: first, None,
                                                                lambda x, statistics: then])
    features = torch.rand(1, 2, 3, 4)
    torch.testing.assert_close(modulate(features, combined, 'head'), (features * 2 + 1) * 3 - 1)
    torch.testing.assert_close(modulate(features, combined, 'coarse'), features * 0.5)
    assert modulate(features, {}, 'head') is features
