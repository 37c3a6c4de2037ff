"""MSIAGenerator's resample 'blurred': the paper's layers with fixed blurs around them, so that no 2x2 block of the
output has weights of its own (msiagan/archs/msia_generator_arch.py)."""
import pytest
import torch
from conftest import unit_scale_generator

from msiagan.archs import MSIAGenerator
from msiagan.archs.msia_generator_arch import blur
from msiagan.inference.fast_inference import optimize_for_inference
from msiagan.metrics.grid_energy import grid_energy
from msiagan.utils.errors import InputError


@pytest.mark.parametrize('resample', ['blurred', 'blurred_ae3_up'])
def test_blurred_has_the_strided_layers_so_weights_load_either_way(resample):
    strided, blurred = MSIAGenerator(num_feat=8, global_branch=True), MSIAGenerator(num_feat=8, global_branch=True,
                                                                                   resample=resample)
    assert {key: value.shape for key, value in strided.state_dict().items()} == {
        key: value.shape for key, value in blurred.state_dict().items()}
    blurred.load_state_dict(strided.state_dict())  # strict
    x = torch.rand(1, 3, 40, 48)
    assert not torch.allclose(strided.eval()(x), blurred.eval()(x))


@pytest.mark.parametrize('shape', [(2, 5, 9, 7), (1, 3, 1, 7), (1, 4, 8, 1), (1, 2, 1, 1)])
@pytest.mark.parametrize('channels_last', [False, True])
def test_blur_is_the_binomial_filter_on_the_replicate_padded_image(shape, channels_last):
    x = torch.rand(shape, dtype=torch.float64)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode='replicate')
    taps = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64) / 4
    expected = sum(taps[i] * taps[j] * padded[..., i:i + shape[2], j:j + shape[3]] for i in range(3) for j in range(3))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(blur(x), expected, atol=1e-15, rtol=0)


def test_blur_removes_a_2_pixel_pattern_and_keeps_flat_areas():
    rows, cols = torch.meshgrid(torch.arange(16), torch.arange(16), indexing='ij')
    checkerboard = 0.5 + 0.25 * (-1.0) ** (rows + cols)
    out = blur(checkerboard[None, None].repeat(1, 2, 1, 1))
    torch.testing.assert_close(out[..., 1:-1, 1:-1], torch.full_like(out[..., 1:-1, 1:-1], 0.5))
    flat = torch.full((1, 3, 9, 7), 0.3)
    torch.testing.assert_close(blur(flat), flat)  # borders too: replicate padding


@pytest.mark.parametrize('resample', ['blurred', 'blurred_ae3_up'])
def test_the_blurred_generator_makes_less_grid_from_the_same_weights(resample):
    """The same random weights, a flat grey input: strided up steps stamp a 2x2 pattern, blurred ones do not."""
    strided = unit_scale_generator('lrelu', num_feat=8)
    blurred = MSIAGenerator(num_feat=8, act='lrelu', resample=resample).eval()
    blurred.load_state_dict(strided.state_dict())
    flat = torch.full((1, 3, 64, 64), 0.4)
    energies = []
    for net in (strided, blurred):
        with torch.no_grad():
            out = net(flat)
        out = (out - out.mean()) / out.std() * 20 + 128  # the same contrast for both
        energies.append(grid_energy(out[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy().copy()))
    assert energies[1] < 0.5 * energies[0], energies


@pytest.mark.parametrize('resample', ['blurred', 'blurred_ae3_up'])
def test_a_flat_input_gives_a_flat_output_away_from_the_borders(resample):
    """Every map of a flat input is flat but for the pattern each up step stamps, which its blur removes exactly;
    strided up steps leave it in the output."""
    torch.manual_seed(0)
    flat = torch.full((1, 3, 160, 160), 0.3, dtype=torch.float64)  # 48 pixels inside 'blurred''s margin of 56
    spreads = {}
    for name in ('strided', resample):
        net = MSIAGenerator(num_feat=8, act='lrelu', global_branch=True, coarse_blocks=1, resample=name).double()
        with torch.no_grad():
            out = net.eval()(flat)
        margin = net.receptive_radius
        spreads[name] = out[..., margin:-margin, margin:-margin].std(dim=(-2, -1)).max().item()
    assert spreads[resample] < 1e-12 < 1e-4 < spreads['strided'], spreads


def test_fast_inference_runs_a_blurred_generator_as_it_is_and_bad_values_are_named():
    """'blurred''s blurs before the down steps have no fast path (it runs eager); 'blurred_ae3_up' has
    (tests/test_fast_inference.py)."""
    net = MSIAGenerator(num_feat=8, act='lrelu', resample='blurred').eval()
    assert optimize_for_inference(net) is net
    with pytest.raises(InputError, match=r"network_g: resample 'nearest' is not one of \['strided', 'blurred', "
                                         r"'blurred_ae3_up'\]"):
        MSIAGenerator(resample='nearest')
