"""A low-light capture simulated from a well-exposed photo: the demo's training data and the test clips of video.

sRGB -> linear light, exposure scaled down, Poisson shot noise plus Gaussian read noise on the photo-electron count,
back to 8-bit sRGB.
"""
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
