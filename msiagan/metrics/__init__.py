"""Metrics, registered in BasicSR's METRIC_REGISTRY on import."""
from .gt_mean_metric import calculate_brightness_error, calculate_psnr_gtmean, calculate_ssim_gtmean

__all__ = ['calculate_brightness_error', 'calculate_psnr_gtmean', 'calculate_ssim_gtmean']
