"""PSNR and SSIM after GT-mean correction, as low-light papers report beside the plain protocol."""
import cv2
import numpy as np
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.registry import METRIC_REGISTRY


def match_gt_mean(img, img2):
    """Scale ``img`` so its grey mean equals that of the reference ``img2``; both uint8 (H, W, 3) BGR.

    Returns float64 in [0, 255]. The grey level is OpenCV's BGR->GRAY luma.
    """
    grey_mean = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).mean()
    ref_grey_mean = cv2.cvtColor(img2, cv2.COLOR_BGR2GRAY).mean()
    return np.clip(img.astype(np.float64) * ref_grey_mean / max(grey_mean, 1e-6), 0, 255)


@METRIC_REGISTRY.register()
def calculate_psnr_gtmean(img, img2, crop_border, **kwargs):
    """BasicSR's calculate_psnr of ``img`` rescaled by ``match_gt_mean`` against the reference ``img2``."""
    return calculate_psnr(match_gt_mean(img, img2), img2, crop_border, **kwargs)


@METRIC_REGISTRY.register()
def calculate_ssim_gtmean(img, img2, crop_border, **kwargs):
    """BasicSR's calculate_ssim of ``img`` rescaled by ``match_gt_mean`` against the reference ``img2``."""
    return calculate_ssim(match_gt_mean(img, img2), img2, crop_border, **kwargs)
