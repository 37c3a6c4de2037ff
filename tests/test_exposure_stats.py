"""scripts/metrics/exposure_stats.py: how much the inputs' brightness tells about the references'."""
import os

import cv2
import numpy as np
import pytest
from conftest import load_script, run_script
from msiagan.utils.errors import InputError

exposure_stats = load_script('exposure_stats')


def write_flat_pairs(root, levels):
    """root/{low,high}/<i>.png: flat grey images, input level and reference level per pair."""
    for folder in ('low', 'high'):
        os.makedirs(root / folder)
    for i, (low, high) in enumerate(levels):
        for folder, level in (('low', low), ('high', high)):
            assert cv2.imwrite(str(root / folder / f'{i}.png'), np.full((8, 12, 3), level, np.uint8))
    return [dict(lq_path=str(root / 'low' / f'{i}.png'), gt_path=str(root / 'high' / f'{i}.png'))
            for i in range(len(levels))]


def measured(root, levels):
    """``measure_pairs`` of ``write_flat_pairs(root, levels)``."""
    return exposure_stats.measure_pairs(write_flat_pairs(root, levels))


def test_a_reference_that_follows_the_input_correlates_and_one_that_does_not_does_not(tmp_path):
    follows = exposure_stats.exposure_stats(measured(tmp_path / 'a', [(10, 100), (20, 120), (40, 160)]))
    assert follows['r(input, reference)'] == pytest.approx(1)
    assert follows['reference mean'] == pytest.approx(380 / 3)
    assert follows['constant-guess error'] == pytest.approx((80 / 3 + 20 / 3 + 100 / 3) / 3)
    independent = exposure_stats.exposure_stats(
        measured(tmp_path / 'b', [(10, 100), (20, 160), (30, 160), (40, 100)]))
    assert independent['r(input, reference)'] == pytest.approx(0, abs=1e-12)
    assert independent['constant-guess error'] == pytest.approx(30)


def test_fixed_exposure_psnr_is_that_of_references_rescaled_to_one_grey_level(tmp_path):
    """Flat references at 100 and 140: at their average, 120, each is off by 20 grey levels everywhere."""
    pairs = measured(tmp_path, [(10, 100), (20, 140)])
    at_average = exposure_stats.exposure_stats(pairs)
    assert at_average['fixed grey level'] == pytest.approx(120)
    assert at_average['fixed-exposure PSNR'] == pytest.approx(20 * np.log10(255 / 20))
    at_110 = exposure_stats.exposure_stats(pairs, grey_level=110)
    assert at_110['fixed-exposure PSNR'] == pytest.approx((20 * np.log10(255 / 10) + 20 * np.log10(255 / 30)) / 2)
    at_100 = exposure_stats.exposure_stats(pairs, grey_level=100)  # the first is already there: capped, not inf
    assert at_100['fixed-exposure PSNR'] == pytest.approx((exposure_stats.MAX_PSNR + 20 * np.log10(255 / 40)) / 2)


def test_a_black_reference_is_named(tmp_path):
    pairs = measured(tmp_path, [(10, 100), (20, 0)])
    with pytest.raises(InputError, match=r'1\.png: reference is black \(grey mean 0\)'):
        exposure_stats.exposure_stats(pairs)


def test_prints_one_line_and_names_a_meta_info_stem_without_pair(tmp_path, capsys):
    write_flat_pairs(tmp_path, [(10, 100), (20, 120), (40, 160)])
    assert run_script(exposure_stats, '--data', tmp_path) is None
    out = capsys.readouterr().out
    assert out.startswith('3 pairs; reference grey mean 126.7 +- ')
    psnr = np.mean([20 * np.log10(255 / abs(380 / 3 - level)) for level in (100, 120, 160)])
    assert out.rstrip().endswith(f'PSNR at one fixed exposure (grey level 126.7) {psnr:.2f} dB')
    error = run_script(exposure_stats, '--data', tmp_path, '--grey-level', 300)
    assert '--grey-level 300.0: must be in (0, 255]' in error
    (tmp_path / 'meta.txt').write_text('0\n7\n')
    error = run_script(exposure_stats, '--data', tmp_path, '--meta-info', tmp_path / 'meta.txt')
    assert "lists '7', which is not among the data pairs" in error
    (tmp_path / 'one.txt').write_text('0\n')
    assert '1 pair(s): a correlation needs at least two' in run_script(
        exposure_stats, '--data', tmp_path, '--meta-info', tmp_path / 'one.txt')


def test_exposure_features_are_the_log_histogram_percentiles_channels_and_layout():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :30] = (0, 0, 255)  # left half red, right half black
    features = exposure_stats.exposure_features(img)
    grey_red = np.log1p(76)  # OpenCV's luma of pure red, rounded: 0.299 * 255
    assert features.shape == (63,)
    histogram, percentiles, channels, layout = features[:24], features[24:33], features[33:39], features[39:]
    assert histogram.sum() == pytest.approx(1) and histogram[0] == pytest.approx(0.5)
    assert histogram[int(grey_red / (np.log1p(255) / 24))] == pytest.approx(0.5)
    assert percentiles[0] == 0 and percentiles[-1] == pytest.approx(grey_red)
    assert channels[:3] == pytest.approx([0, 0, np.log1p(255) / 2])  # B, G, R means
    assert layout.reshape(4, 6)[:, :3] == pytest.approx(np.full((4, 3), grey_red))
    assert layout.reshape(4, 6)[:, 3:] == pytest.approx(np.zeros((4, 3)))


def test_a_reference_that_follows_the_input_exposure_is_predicted_on_held_out_pairs(tmp_path):
    """References 200 log(1 + input) - 800 (rounded): predicted to within the rounding; their average is far off."""
    def reference(level):
        return int(round(200 * np.log1p(level) - 800))
    fit_pairs = measured(tmp_path / 'fit', [(level, reference(level)) for level in (105, 109, 113, 117, 121, 125)])
    pairs = measured(tmp_path / 'held', [(level, reference(level)) for level in (107, 111, 119, 123)])
    prediction = exposure_stats.exposure_prediction(fit_pairs, pairs)
    assert prediction['prediction error'] < 1
    assert prediction['prediction r'] > 0.99
    fitted_average = np.mean([reference(level) for level in (105, 109, 113, 117, 121, 125)])
    assert prediction['fitted-average error'] == pytest.approx(
        np.mean([abs(reference(level) - fitted_average) for level in (107, 111, 119, 123)]))
    with pytest.raises(InputError, match=r'1 pair\(s\) to fit on: a regression needs at least two'):
        exposure_stats.exposure_prediction(measured(tmp_path / 'one', [(105, 21)]), pairs)


def test_measure_pairs_reads_each_image_once(tmp_path, monkeypatch):
    pairs = write_flat_pairs(tmp_path, [(10, 100), (20, 120)])
    reads = []
    real_read = exposure_stats.read_bgr_uint8
    monkeypatch.setattr(exposure_stats, 'read_bgr_uint8', lambda path: reads.append(path) or real_read(path))
    measures = exposure_stats.measure_pairs(pairs)
    assert sorted(reads) == sorted(path for pair in pairs for path in pair.values())
    assert measures['input means'] == pytest.approx([10, 20]) and measures['reference means'] == pytest.approx([100, 120])
    assert measures['input features'].shape == (2, 63)
    assert measures['input features'][1] == pytest.approx(exposure_stats.exposure_features(real_read(pairs[1]['lq_path'])))


def test_prints_the_prediction_line_with_fit_meta_info(tmp_path, capsys):
    write_flat_pairs(tmp_path, [(10, 100), (20, 120), (40, 160), (30, 140)])
    (tmp_path / 'fit.txt').write_text('0\n1\n2\n')
    (tmp_path / 'held.txt').write_text('3\n')
    (tmp_path / 'held2.txt').write_text('3\n1\n')
    assert run_script(exposure_stats, '--data', tmp_path, '--meta-info', tmp_path / 'held2.txt',
                      '--fit-meta-info', tmp_path / 'fit.txt') is None
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("fitted on 3 pairs, a regression on the inputs' exposure statistics predicts the "
                           "references' grey means to ")
    assert last.endswith('their average alone to 10.0')  # |140 - 126.7| and |120 - 126.7|, averaged
