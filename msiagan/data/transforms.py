"""Geometric transforms on (H, W, C) arrays, and on (C, H, W) tensors, that are not in basicsr.data.transforms."""
import cv2
import numpy as np
import torch

from msiagan.utils.errors import InputError

INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
    'lanczos': cv2.INTER_LANCZOS4,
}


def resize_image(img, size, interpolation='area'):
    """Resize (H, W, C) to ``size`` = [width, height] pixels with a named interpolation."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"resize_interp '{interpolation}' is not one of {sorted(INTERPOLATIONS)}")
    width, height = size
    if (img.shape[1], img.shape[0]) == (width, height):
        return img
    return cv2.resize(img, (width, height), interpolation=INTERPOLATIONS[interpolation])


def pad_to_size(img, min_size):
    """Reflect-pad (H, W, C) on the bottom and right to at least ``min_size`` in both dimensions; when a side
    would need a pad as long as itself or longer, the image is edge-padded instead of mirrored back and forth."""
    pad_h, pad_w = max(min_size - img.shape[0], 0), max(min_size - img.shape[1], 0)
    if pad_h == 0 and pad_w == 0:
        return img
    mode = 'reflect' if pad_h < img.shape[0] and pad_w < img.shape[1] else 'edge'
    return np.pad(img, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)


def flip_and_turn(img, hflip, vflip, rot90):
    """What ``basicsr.data.transforms.augment`` does to an (H, W, C) array, on a (C, H, W) tensor: a horizontal
    flip, a vertical flip, then a transpose of H and W, each if asked."""
    dims = [dim for dim, wanted in ((-1, hflip), (-2, vflip)) if wanted]
    img = torch.flip(img, dims) if dims else img
    return img.transpose(-2, -1) if rot90 else img
