"""A low-light capture simulated from a well-exposed photo (the demo's training data), or a clip of them (for
measuring video: scripts/metrics/video_flicker.py, scripts/benchmarks/benchmark_video.py).

sRGB -> linear light, exposure scaled down, Poisson shot noise plus Gaussian read noise on the photo-electron count,
back to 8-bit sRGB.
"""
import cv2
import numpy as np


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055)**2.4)


def linear_to_srgb(x):
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def darken(img, rng, exposure, full_well=1500.0, read_noise=2.0):
    """Simulate a low-light capture of an RGB uint8 image.

    exposure: fraction of the light kept (e.g. 0.08); full_well: photo-electrons of a full-scale pixel at
    the original exposure; read_noise: std of the Gaussian read noise in electrons. Returns RGB uint8.
    """
    electrons = srgb_to_linear(img / 255.0) * exposure * full_well
    noisy = rng.poisson(electrons) + rng.normal(0.0, read_noise, electrons.shape)
    return np.round(linear_to_srgb(np.clip(noisy / full_well, 0, 1)) * 255).astype(np.uint8)


def pan_clip(photo, size, frames, pan, exposures, seed=0):
    """The frames (H, W, 3) uint8 RGB of a pan across ``photo`` (RGB uint8): a window of 3/4 of its height, at the
    aspect of ``size`` (W, H), moving evenly across ``pan`` of its width, resized to ``size``; frame i darkened to
    ``exposures[i]`` of the light, with fresh noise."""
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    crop_h = 3 * height // 4
    crop_w = min(width, crop_h * size[0] // size[1])
    travel = min(pan * width, width - crop_w)
    top = (height - crop_h) // 2
    for i in range(frames):
        left = round(travel * i / max(frames - 1, 1))
        window = cv2.resize(photo[top:top + crop_h, left:left + crop_w], size, interpolation=cv2.INTER_AREA)
        yield darken(window, rng, exposures[i])
