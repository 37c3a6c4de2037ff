import numpy as np
import pytest
from basicsr.metrics import calculate_metric

from msiagan.metrics import calculate_brightness_error, calculate_psnr_gtmean


def test_gt_mean_undoes_a_global_brightness_error():
    rng = np.random.default_rng(0)
    reference = rng.integers(40, 200, (32, 48, 3)).astype(np.uint8)
    too_dark = (reference * 0.6).round().astype(np.uint8)
    plain = calculate_metric({'img': too_dark, 'img2': reference}, {'type': 'calculate_psnr', 'crop_border': 0})
    corrected = calculate_metric({'img': too_dark, 'img2': reference},
                                 {'type': 'calculate_psnr_gtmean', 'crop_border': 0})
    assert plain < 15 and corrected > 40
    ssim = calculate_metric({'img': too_dark, 'img2': reference}, {'type': 'calculate_ssim_gtmean', 'crop_border': 0})
    assert ssim == pytest.approx(1.0, abs=1e-3)


def test_gt_mean_leaves_a_correct_exposure_alone():
    rng = np.random.default_rng(1)
    img, reference = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    reference = ((img.astype(int) + reference) // 2).astype(np.uint8)
    scale = reference.mean() / img.mean()
    assert abs(scale - 1) < 0.05  # same exposure, different content
    assert calculate_psnr_gtmean(img, reference, 0) == pytest.approx(
        calculate_metric({'img': img, 'img2': reference}, {'type': 'calculate_psnr', 'crop_border': 0}), abs=0.5)


def test_brightness_error_is_the_grey_mean_difference_whatever_the_content():
    rng = np.random.default_rng(2)
    reference = rng.integers(40, 200, (32, 48, 3)).astype(np.uint8)
    shuffled = rng.permutation(reference.reshape(-1, 3)).reshape(reference.shape)  # other content, same exposure
    assert calculate_metric({'img': shuffled, 'img2': reference},
                            {'type': 'calculate_brightness_error', 'crop_border': 0}) == pytest.approx(0, abs=1e-9)
    brighter = reference + np.uint8(20)
    assert calculate_brightness_error(brighter, reference) == pytest.approx(20, abs=0.6)  # luma rounds to uint8
    assert calculate_brightness_error(reference, brighter) == calculate_brightness_error(brighter, reference)
