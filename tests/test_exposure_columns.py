"""compare.py's --kept, --sweep and --unpaired columns, and the measures behind them (msiagan.metrics.exposure,
msiagan.metrics.grid_energy), checked against direct computations."""
import csv
import subprocess
import sys
from os import path as osp

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, enhanced_uint8, load_script, psnr_uint8, write_pairs

from msiagan.archs import MSIAGenerator
from msiagan.metrics.exposure import darken_in_linear_light, linear_mean
from msiagan.metrics.grid_energy import grid_energy

SWEEP_COLUMNS = ['sweep x0.05', 'sweep x0.1', 'sweep x0.2', 'sweep x0.4', 'sweep x0.7', 'sweep x1']


@pytest.fixture
def tiny_model(tmp_path):
    """(options file, weights file, the network) of a small MSIAGenerator with a global branch."""
    torch.manual_seed(0)
    network_g = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', 'global_branch': True}
    net = MSIAGenerator(**{key: value for key, value in network_g.items() if key != 'type'})
    torch.nn.init.normal_(net.global_branch.mlp[-1].weight, std=0.5)  # awake: its output depends on the exposure
    torch.save({'params': net.state_dict()}, tmp_path / 'net.pth')
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': network_g}))
    return tmp_path / 'net.yml', tmp_path / 'net.pth', net.eval()


def on_two_pairs(tmp_path, tiny_model):
    """(compare.py as a module, its pairs of two written 40x32 pairs, an Enhancer of ``tiny_model``)."""
    options, weights, _ = tiny_model
    write_pairs(str(tmp_path / 'data'), ['a', 'b'], size=(40, 32))
    compare = load_script('compare')
    return compare, compare.paired_paths_from_root(str(tmp_path / 'data')), compare.Enhancer(str(weights), str(options))


def test_darkening_in_linear_light_by_its_definition():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    for factor in (0.05, 0.4, 1):
        expected = np.round(((img / 255) ** 2.2 * factor) ** (1 / 2.2) * 255).astype(np.uint8)
        assert np.array_equal(darken_in_linear_light(img, factor), expected)
    assert np.array_equal(darken_in_linear_light(img, 1), img)
    assert linear_mean(img) == pytest.approx(np.mean((np.arange(256) / 255) ** 2.2))
    assert linear_mean(darken_in_linear_light(img, 0.1)) == pytest.approx(0.1 * linear_mean(img), rel=0.02)


def test_grid_energy_of_a_flat_image_is_zero_and_of_a_checkerboard_its_residual_amplitude():
    assert grid_energy(np.full((40, 48, 3), 128, np.uint8)) == 0
    amplitude = 20
    rows, cols = np.indices((37, 45))  # not multiples of 8: cropped to 32x40
    checkerboard = np.where((rows + cols) % 2, 128 + amplitude, 128 - amplitude).astype(np.uint8)
    taps = cv2.getGaussianKernel(5, 1.0)[:, 0]
    kept = 1 - (taps * (-1) ** np.arange(5)).sum() ** 2  # what Y - blur(Y) keeps of the finest checkerboard
    energy = grid_energy(np.repeat(checkerboard[..., None], 3, axis=2))
    assert energy == pytest.approx(amplitude * kept, rel=1e-3)  # the 64 phase means: +-amplitude * kept


def test_grid_energy_of_noise_averages_out():
    noise = np.random.default_rng(0).integers(64, 192, (400, 600, 3), dtype=np.uint8)
    assert grid_energy(noise) < 0.5  # each phase mean averages 3,750 blocks of unpatterned detail


def test_kept_and_sweep_scores_match_a_direct_computation(tmp_path, tiny_model):
    compare, pairs, enhancer = on_two_pairs(tmp_path, tiny_model)
    net = tiny_model[2]
    highs = [cv2.imread(str(tmp_path / 'data' / 'high' / f'{stem}.png')) for stem in ('a', 'b')]
    kept = [psnr_uint8(enhanced_uint8(net, high), high) for high in highs]
    assert compare.kept_scores(enhancer, pairs) == pytest.approx({'kept PSNR': np.mean(kept),
                                                                  'kept worst': np.min(kept)}, rel=1e-4)
    expected = {}
    for column, factor in zip(SWEEP_COLUMNS, (0.05, 0.1, 0.2, 0.4, 0.7, 1)):
        darkened = [np.round(((high / 255) ** 2.2 * factor) ** (1 / 2.2) * 255).astype(np.uint8) for high in highs]
        expected[column] = np.mean([psnr_uint8(enhanced_uint8(net, low), high) for low, high in zip(darkened, highs)])
    scores = compare.sweep_scores(enhancer, pairs)
    assert list(scores) == SWEEP_COLUMNS
    assert scores == pytest.approx(expected, rel=1e-4)
    assert len(set(np.round(list(scores.values()), 3))) == len(SWEEP_COLUMNS)  # each factor its own input


def test_exposure_to_reference_scores_ask_each_input_for_its_references_exposure(tmp_path, tiny_model):
    compare, pairs, enhancer = on_two_pairs(tmp_path, tiny_model)
    options, weights, net = tiny_model
    expected = []
    for stem in ('a', 'b'):
        low, high = (cv2.imread(str(tmp_path / 'data' / role / f'{stem}.png')) for role in ('low', 'high'))
        stops = np.log2(linear_mean(high) / linear_mean(enhanced_uint8(net, low)))
        asked = compare.Enhancer(str(weights), str(options), exposure=float(np.clip(stops, -4, 4)))
        output = asked.enhance_bgr_uint8(low)
        expected.append(psnr_uint8(output, high))
        assert abs(np.log2(linear_mean(output) / linear_mean(high))) < abs(stops) / 2  # nearer the reference's
    scores = compare.exposure_to_reference_scores(enhancer, pairs)
    assert scores['PSNR (EV to GT)'] == pytest.approx(np.mean(expected), rel=1e-4)
    assert enhancer.exposure_control.exposure == 0  # at_exposure left the enhancer as it was


def test_unpaired_images_are_shrunk_to_1200_pixels_on_the_long_side(tmp_path, tiny_model):
    folder = tmp_path / 'photos'
    folder.mkdir()
    rng = np.random.default_rng(1)
    big, small = (rng.integers(0, 256, size, dtype=np.uint8) for size in ((300, 1500, 3), (40, 48, 3)))
    cv2.imwrite(str(folder / 'big.png'), big)
    cv2.imwrite(str(folder / 'small.jpg'), small)
    (folder / 'notes.txt').write_text('not an image')
    compare = load_script('compare')
    paths = compare.unpaired_paths(str(folder))
    assert [osp.basename(path) for path in paths] == ['big.png', 'small.jpg']
    assert compare.read_unpaired(paths[0]).shape == (240, 1200, 3)
    assert np.array_equal(compare.read_unpaired(paths[0]),
                          cv2.resize(big, (1200, 240), interpolation=cv2.INTER_AREA))
    assert compare.read_unpaired(paths[1]).shape == (40, 48, 3)  # smaller: as it is
    options, weights, net = tiny_model
    enhancer = compare.Enhancer(str(weights), str(options))
    energies = [grid_energy(enhanced_uint8(net, compare.read_unpaired(path))) for path in paths]
    assert compare.grid_scores(enhancer, paths) == pytest.approx(
        {'grid median': np.median(energies), 'grid max': np.max(energies)}, rel=1e-6)


def test_the_columns_are_in_the_tables_and_a_bad_unpaired_folder_is_named(tmp_path, tiny_model):
    options, weights, _ = tiny_model
    write_pairs(str(tmp_path / 'data'), ['a'], size=(40, 32))
    command = [sys.executable, osp.join(REPO, 'scripts', 'metrics', 'compare.py'), '--data', str(tmp_path / 'data'),
               '--out', str(tmp_path / 'out'), '--model', 'tiny', str(options), str(weights), '--repeats', '0',
               '--device', 'cpu', '--kept', '--sweep', '--unpaired']
    result = subprocess.run(command + [str(tmp_path / 'data' / 'low')], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = csv.DictReader(open(tmp_path / 'out' / 'compare.csv'))
    for column in ['kept PSNR', 'kept worst', *SWEEP_COLUMNS, 'grid median', 'grid max']:
        assert float(row[column]) > 0, column
        assert f' {column} |' in (tmp_path / 'out' / 'compare.md').read_text()
    result = subprocess.run(command + [str(tmp_path / 'missing')], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f'compare.py: error: --unpaired {tmp_path / "missing"}: not a folder']


def test_an_output_equal_to_its_reference_scores_the_cap_and_tiny_unpaired_images_are_named(tmp_path):
    write_pairs(str(tmp_path / 'data'), ['a', 'b'], size=(40, 32))
    compare = load_script('compare')
    pairs = compare.paired_paths_from_root(str(tmp_path / 'data'))

    class Identity:
        def enhance_bgr_uint8(self, img):
            return img

    assert compare.kept_scores(Identity(), pairs) == {'kept PSNR': 100.0, 'kept worst': 100.0}
    assert compare.sweep_scores(Identity(), pairs)['sweep x1'] == 100.0
    cv2.imwrite(str(tmp_path / 'tiny.png'), np.zeros((5, 12, 3), np.uint8))
    with pytest.raises(compare.InputError, match=f'--unpaired {tmp_path / "tiny.png"}: 12x5, smaller than the 8x8'):
        compare.read_unpaired(str(tmp_path / 'tiny.png'))
