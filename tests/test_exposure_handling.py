"""Exposure handled on purpose at inference (msiagan.inference.exposure), through Enhancer and msiagan-enhance, and
the training range written beside the weights by exposure_stats.py --write-range."""
import math
import re
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, load_script, recommended_generator, write_pairs

from msiagan.enhance import main as enhance_main
from msiagan.inference import Enhancer
from msiagan.inference.exposure import ExposureControl, ExposureRange, scale_exposure
from msiagan.metrics.exposure import highlight, linear_mean
from msiagan.utils.errors import InputError

RANGE = {'pairs': 3, 'input_mean': {'p2': 0.001, 'p98': 0.02}, 'reference_mean': {'p10': 0.1, 'p98': 0.4},
         'reference_highlight': {'p25': 0.5}}
TRAINED = ExposureRange(0.001, 0.02, 0.1, 0.4, 0.5)


def brightening(x):
    """A stand-in generator: brightens everything a lot, as a LOL-v1 generator does (sRGB ** 0.3)."""
    return x.clamp(0, 1) ** 0.3


def linear_means(x):
    """Linear mean of each image of x (N, 3, H, W) in [0, 1]."""
    return (x.double() ** 2.2).mean(dim=(1, 2, 3))


def photo(level, seed=0, size=(3, 48, 64)):
    """An sRGB image (1, 3, H, W) in [0, 1] with linear mean about ``level`` and highlights at its top."""
    rng = np.random.default_rng(seed)
    linear = rng.uniform(0, 2 * level, size).clip(0, 1)
    return torch.from_numpy(linear ** (1 / 2.2)).float()[None]


@pytest.fixture
def model_with_range(tmp_path):
    """Weights of a small recommended generator with <stem>.yml holding network_g and an exposure_range."""
    net = recommended_generator()
    head = [module for module in net.modules() if isinstance(module, torch.nn.Conv2d) and module.out_channels == 3][-1]
    with torch.no_grad():
        head.bias += 0.6  # outputs about mid-grey, so that their exposure can be set
    torch.save({'params': net.state_dict()}, tmp_path / 'net.pth')
    with open(f'{REPO}/options/train/recommended_gan_lol.yml') as f:
        network_g = {**yaml.safe_load(f)['network_g'], 'num_feat': 8}
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': network_g, 'exposure_range': RANGE}))
    return str(tmp_path / 'net.pth'), net


def test_scale_exposure_is_the_identity_at_gain_1_and_brighter_with_every_larger_gain():
    linear = torch.linspace(0, 1, 1001, dtype=torch.float64)
    assert torch.equal(scale_exposure(linear, 1.0), linear)
    outputs = [scale_exposure(linear, gain) for gain in (0.25, 0.5, 0.9, 1, 1.1, 2, 4, 16)]
    for darker, brighter in zip(outputs, outputs[1:]):
        assert (brighter[1:-1] > darker[1:-1]).all()
    for gain in (1.1, 2, 4, 16):
        out = scale_exposure(linear, gain)
        assert out.max() == 1 and out[-1] == 1  # white stays white: rolled off, not clipped
        assert (out[1:] >= out[:-1]).all()  # never reverses the order of two values
        below = linear * gain <= 1 / gain
        assert torch.allclose(out[below], linear[below] * gain)  # exact below the knee
    assert torch.allclose(scale_exposure(linear, 0.5), linear / 2)


def test_dark_inputs_within_the_range_get_the_generator_output_exactly():
    x = torch.cat([photo(0.002), photo(0.01, seed=1)])
    assert torch.equal(ExposureControl(TRAINED).run(brightening, x), brightening(x))


def test_inputs_outside_the_range_reach_the_generator_within_it():
    seen = []

    def recording(x):
        seen.append(x.clone())
        return brightening(x)

    ExposureControl(TRAINED).run(recording, torch.cat([photo(0.0001), photo(0.3, seed=1)]))
    assert linear_means(seen[0]).tolist() == pytest.approx([0.001, 0.02], rel=0.02)


def test_well_exposed_photos_keep_their_own_exposure():
    x = photo(0.25)  # brighter than the references' 10th percentile, highlights near white
    out = ExposureControl(TRAINED).run(brightening, x)
    assert linear_means(brightening(x)).item() > 1.5 * linear_means(x).item()  # what the generator alone does
    assert linear_means(out).item() == pytest.approx(linear_means(x).item(), rel=0.01)


def test_a_bright_scene_shot_dark_is_lifted_by_its_highlights_headroom():
    """The same scene at a quarter of the light, with no highlight above a quarter of the references': its own
    exposure is read as four times its mean (before the blend with the generator's)."""
    scene = photo(0.25)
    dark = ((scene ** 2.2) * 0.25) ** (1 / 2.2)
    plan = ExposureControl(ExposureRange(0.001, 0.02, 0.03, 0.4, 0.5)).plan(dark[0])
    headroom = 0.5 / highlight((dark[0].permute(1, 2, 0).numpy() * 255).round())
    assert plan['weight'] == 1 and plan['own mean'] == pytest.approx(linear_means(dark).item() * headroom, rel=0.02)


def test_the_exposure_changes_smoothly_with_the_input_exposure():
    """No jump at any threshold: outputs for inputs 2% apart in exposure, across the whole range, differ little."""
    scene = photo(0.1)
    means = []
    for factor in np.geomspace(0.002, 4, 200):
        x = ((scene ** 2.2) * factor).clamp(0, 1) ** (1 / 2.2)
        means.append(linear_means(ExposureControl(TRAINED).run(brightening, x)).item())
    steps = np.abs(np.diff(np.log(means)))
    assert steps.max() < 0.1  # at most about 10% from one input to the next, 3.9% brighter


def test_exposure_ev_0_is_the_default_and_plus_minus_1_are_brighter_and_darker():
    x = torch.cat([photo(0.002), photo(0.25, seed=1)])
    default = ExposureControl(TRAINED).run(brightening, x)
    assert torch.equal(ExposureControl(TRAINED, exposure=0).run(brightening, x), default)
    brighter, darker = (ExposureControl(TRAINED, exposure=ev).run(brightening, x) for ev in (1, -1))
    assert (brighter >= default).all() and (darker <= default).all()
    assert linear_means(darker).tolist() == pytest.approx((linear_means(default) / 2).tolist(), rel=0.01)
    assert brighter.max() <= 1 and (linear_means(brighter) > 1.3 * linear_means(default)).all()
    for bad in (4.5, -5, 'one', float('nan')):
        with pytest.raises(InputError, match='exposure .*: must be a number of stops from -4 to 4'):
            ExposureControl(TRAINED, exposure=bad)


def test_enhancer_reads_the_range_beside_the_weights_and_tiles_agree(model_with_range):
    weights, net = model_with_range
    enhancer = Enhancer(weights, fast=False)
    assert enhancer.exposure_handling == 'on' and enhancer.exposure_control.range == TRAINED
    x = photo(0.3, size=(3, 40, 56))
    whole = enhancer.enhance_tensor(x)
    with torch.no_grad():
        alone = net(x).clamp(0, 1)
    assert linear_means(whole).item() == pytest.approx(linear_means(x).item(), rel=0.02)
    assert not torch.allclose(whole, alone, atol=1e-2)
    torch.testing.assert_close(enhancer.enhance_tensor(x, tile=16), whole, rtol=0, atol=1e-5)
    network_only = Enhancer(weights, exposure_handling=False)
    assert network_only.exposure_handling == 'off'
    torch.testing.assert_close(network_only.enhance_tensor(x), alone, rtol=0, atol=1e-6)


def test_weights_without_a_range_run_the_generator_alone_and_say_so(model_with_range, tmp_path, capsys):
    weights, net = model_with_range
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': {
        **yaml.safe_load((tmp_path / 'net.yml').read_text())['network_g']}}))
    enhancer = Enhancer(weights)
    assert enhancer.exposure_handling == 'no range'
    x = photo(0.3, size=(3, 40, 56))
    with torch.no_grad():
        torch.testing.assert_close(enhancer.enhance_tensor(x), net(x).clamp(0, 1), rtol=0, atol=1e-6)
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((16, 24, 3), 40, np.uint8))
    enhance_main(['-i', str(tmp_path / 'a.png'), '-o', str(tmp_path / 'out'), '--weights', weights])
    assert (tmp_path / 'out' / 'a.png').is_file()
    assert f'note: {weights}: no exposure_range beside it, so the generator runs alone' in capsys.readouterr().err


def test_a_bad_range_is_named_with_its_file(model_with_range, tmp_path):
    weights, _ = model_with_range
    options = yaml.safe_load((tmp_path / 'net.yml').read_text())
    for block in ({'input_mean': {'p2': 0.001}}, {**RANGE, 'input_mean': {'p2': 0.5, 'p98': 0.02}}):
        (tmp_path / 'net.yml').write_text(yaml.safe_dump({**options, 'exposure_range': block}))
        with pytest.raises(InputError, match=f'^{tmp_path / "net.yml"}: exposure_range '):
            Enhancer(weights)


def test_a_range_written_before_the_25th_highlight_percentile_asks_for_a_new_one(model_with_range, tmp_path):
    """Blocks written by an earlier exposure_stats.py hold reference_highlight p10 but no p25: refused, never read
    with another percentile in its place."""
    weights, _ = model_with_range
    options = yaml.safe_load((tmp_path / 'net.yml').read_text())
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({**options, 'exposure_range': {
        **RANGE, 'reference_highlight': {'p10': 0.4, 'p50': 0.7}}}))
    with pytest.raises(InputError, match=f'^{tmp_path / "net.yml"}: exposure_range .*run exposure_stats.py '
                                         '--write-range again'):
        Enhancer(weights)


@pytest.mark.parametrize('value, message', [('9', "argument --exposure: 9: must be from -4 to 4 stops"),
                                            ('bright', "argument --exposure: 'bright' is not a number of stops")])
def test_bad_exposure_values_are_named(model_with_range, tmp_path, capsys, value, message):
    weights, _ = model_with_range
    with pytest.raises(SystemExit) as stop:
        enhance_main(['-i', str(tmp_path), '-o', str(tmp_path / 'out'), '--weights', weights, '--exposure', value])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_write_range_measures_the_pairs_and_replaces_the_block(tmp_path, monkeypatch):
    write_pairs(str(tmp_path / 'data'), ['a', 'b', 'c'], size=(40, 32))
    options = tmp_path / 'net.yml'
    options.write_text('# my generator\nnetwork_g:\n  type: MSIAGenerator\n\nexposure_range:\n  pairs: 1\n')
    stats = load_script('exposure_stats')
    for _ in range(2):  # the second run replaces the first's block
        monkeypatch.setattr(sys, 'argv', ['exposure_stats.py'])
        stats.main(['--data', str(tmp_path / 'data'), '--write-range', str(options)])
    text = options.read_text()
    assert text.startswith('# my generator\nnetwork_g:\n  type: MSIAGenerator\n') and text.count('exposure_range:') == 1
    block = yaml.safe_load(text)['exposure_range']
    lows = [cv2.imread(str(tmp_path / 'data' / 'low' / f'{stem}.png')) for stem in 'abc']
    highs = [cv2.imread(str(tmp_path / 'data' / 'high' / f'{stem}.png')) for stem in 'abc']
    assert block['pairs'] == 3
    assert block['input_mean']['p98'] == pytest.approx(np.percentile([linear_mean(img) for img in lows], 98), rel=1e-3)
    assert block['reference_highlight']['p25'] == pytest.approx(
        np.percentile([highlight(img) for img in highs], 25), rel=1e-3)
    assert math.isclose(block['reference_mean']['p50'], np.median([linear_mean(img) for img in highs]), rel_tol=1e-3)
    assert ExposureRange.beside(str(tmp_path / 'net.pth')) == ExposureRange.from_options(block, 'net.yml')
    assert ExposureRange.from_options(block, 'net.yml').reference_highlight == block['reference_highlight']['p25']


def test_benchmark_exposure_prints_both_paths_side_by_side(model_with_range, capsys):
    weights, _ = model_with_range
    threads = torch.get_num_threads()
    try:
        load_script('benchmark_exposure').main(['--weights', weights, '--runs', '1', '--threads', '1'])
    finally:
        torch.set_num_threads(threads)  # the benchmark sets them for its process: this one goes on with its own
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f'{weights}, CPU, 1 threads, 600x400, 1 alternating runs each'
    for line, name in zip(lines[1:], ('dark', 'well-exposed')):
        assert re.fullmatch(rf'{name} image: default \d+ ms \(\d+ to \d+\), --network-only \d+ ms \(\d+ to \d+\); '
                            r'default / --network-only \d\.\d{3}', line), line


def test_in_a_batch_each_image_gets_its_own_exposure_and_dark_ones_stay_exact():
    x = torch.cat([photo(0.002), photo(0.25, seed=1)])
    out = ExposureControl(TRAINED).run(brightening, x)
    assert torch.equal(out[0], brightening(x[:1])[0])  # dark: the generator's output, untouched
    assert linear_means(out[1:]).item() == pytest.approx(linear_means(x[1:]).item(), rel=0.01)


def test_write_range_refuses_a_range_exposure_handling_could_not_use(tmp_path, monkeypatch):
    """Inputs as bright as their references (here the same images): no dark range to bring inputs into."""
    write_pairs(str(tmp_path / 'data'), ['a', 'b'], size=(40, 32))
    for stem in 'ab':
        (tmp_path / 'data' / 'low' / f'{stem}.png').write_bytes((tmp_path / 'data' / 'high' / f'{stem}.png').read_bytes())
    options = tmp_path / 'net.yml'
    options.write_text('network_g:\n  type: MSIAGenerator\n')
    monkeypatch.setattr(sys, 'argv', ['exposure_stats.py'])
    with pytest.raises(SystemExit) as stop:
        load_script('exposure_stats').main(['--data', str(tmp_path / 'data'), '--write-range', str(options)])
    assert str(stop.value.code).startswith(f'exposure_stats.py: error: --write-range {options}: exposure_range ')
    assert options.read_text() == 'network_g:\n  type: MSIAGenerator\n'  # left as it was


def test_gain_for_mean_reaches_the_target_darker_exactly_brighter_in_a_few_steps(monkeypatch):
    from msiagan.inference import exposure
    linear = torch.rand(3, 300, 400, generator=torch.Generator().manual_seed(0)) ** 3
    linear = exposure.sample_pixels(linear)  # what it measures: the statistics' sample of larger images
    mean = float(linear.mean())
    assert exposure.gain_for_mean(linear, mean / 4) == pytest.approx(0.25, rel=1e-6)  # plain scaling
    steps = []
    monkeypatch.setattr(exposure, 'scale_exposure', lambda x, gain: steps.append(gain) or scale_exposure(x, gain))
    for target in (mean * 1.01, mean * 2, 0.6):
        steps.clear()
        gain = exposure.gain_for_mean(linear, target)
        assert float(scale_exposure(linear, gain).mean()) == pytest.approx(target, rel=1e-5)
        assert gain > target / mean and len(steps) <= 8  # highlights rolled off: more gain than the ratio
    assert exposure.gain_for_mean(linear, 0.999) == exposure.GAIN_LIMIT  # beyond what 64x reaches
    assert exposure.gain_for_mean(torch.zeros(3, 8, 8), 0.2) == exposure.GAIN_LIMIT
