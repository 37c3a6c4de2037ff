"""Exposure in linear light: how bright an image is, and the same scene shot darker, for measuring how a model
treats exposure (compare.py --kept and --sweep, the exposure range stored beside weights).

Linear light here is the plain power law v ** 2.2 of sRGB values v in [0, 1] (not the piecewise sRGB curve), as
the figures in docs/enhancing.md use.
"""
import numpy as np

GAMMA = 2.2


def to_linear(img):
    """uint8 (or float in [0, 255]) image -> float64 linear light in [0, 1]."""
    return (np.asarray(img, dtype=np.float64) / 255) ** GAMMA


def from_linear(linear):
    """float linear light -> uint8 sRGB-like values (clipped to [0, 1] first, rounded)."""
    return np.round(np.clip(linear, 0, 1) ** (1 / GAMMA) * 255).astype(np.uint8)


def linear_mean(img):
    """The mean over all pixels and channels of (v / 255) ** 2.2 of a uint8 image: its exposure in linear light."""
    return float(to_linear(img).mean())


def darken_in_linear_light(img, factor):
    """A uint8 image as if shot with ``factor`` times the light: linear light times ``factor``, back with 1/2.2,
    rounded to uint8, no noise."""
    return from_linear(to_linear(img) * factor)


def highlight(img):
    """The 99th percentile, over the pixels of a uint8 (H, W, 3) image, of its brightest channel in linear light:
    how close its highlights come to white (1)."""
    return float(np.percentile(to_linear(img).max(axis=2), 99))
