"""PSNR and SSIM after GT-mean correction, as low-light papers report beside the plain protocol, and the
brightness error that the correction removes."""
import cv2
import numpy as np
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.registry import METRIC_REGISTRY


def grey_mean(img):
    """Mean grey level of a uint8 (H, W, 3) BGR image, in [0, 255]: OpenCV's BGR->GRAY luma."""
    return float(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).mean())


def scale_to_grey_mean(img, level):
    """Scale a uint8 (H, W, 3) BGR image so its grey mean is ``level`` (before clipping); float64 in [0, 255]."""
    return np.clip(img.astype(np.float64) * level / max(grey_mean(img), 1e-6), 0, 255)


def match_gt_mean(img, img2):
    """Scale ``img`` so its grey mean equals that of the reference ``img2``; both uint8 (H, W, 3) BGR.

    Returns float64 in [0, 255].
    """
    return scale_to_grey_mean(img, grey_mean(img2))


@METRIC_REGISTRY.register()
def calculate_psnr_gtmean(img, img2, crop_border, **kwargs):
    """BasicSR's calculate_psnr of ``img`` rescaled by ``match_gt_mean`` against the reference ``img2``."""
    return calculate_psnr(match_gt_mean(img, img2), img2, crop_border, **kwargs)


@METRIC_REGISTRY.register()
def calculate_ssim_gtmean(img, img2, crop_border, **kwargs):
    """BasicSR's calculate_ssim of ``img`` rescaled by ``match_gt_mean`` against the reference ``img2``."""
    return calculate_ssim(match_gt_mean(img, img2), img2, crop_border, **kwargs)


@METRIC_REGISTRY.register()
def calculate_brightness_error(img, img2, crop_border=0, **kwargs):
    """|grey mean of ``img`` - grey mean of the reference ``img2``|, in grey levels of [0, 255].

    The global exposure error that GT-mean correction removes; crop_border is accepted for BasicSR's
    metric interface and ignored (a mean barely depends on the border).
    """
    return abs(grey_mean(img) - grey_mean(img2))
