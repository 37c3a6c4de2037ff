"""Decoding image files into the 3-channel float arrays the networks take.

The rule for every layout: 8-bit values are divided by 255 and 16-bit values by 65535; a grayscale image is
repeated into three channels; an alpha channel is dropped (grayscale + alpha likewise). No EXIF rotation.
"""
import cv2
import numpy as np

from msiagan.errors import InputError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pnm')

FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def read_bytes(path):
    """The content of a file; an InputError naming it when it cannot be opened."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as error:
        raise InputError(f'{path}: cannot open ({error.strerror})') from None


def decode_stored(content, name):
    """Decode image bytes as stored: uint8 or uint16, (H, W) or (H, W, C) with C in 1..4, BGR(A) order.

    ``name`` (a path or LMDB key) is named in the error for bytes that do not decode or other pixel types.
    """
    img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED) if content else None
    if img is None:
        raise InputError(f'{name}: cannot read this image (missing, truncated or not an image)')
    if img.dtype not in FULL_SCALE:
        raise InputError(f'{name}: unsupported pixel type {img.dtype} (8- or 16-bit images only)')
    return img


def split_alpha(img):
    """(colour, alpha) of a decoded image: colour (H, W, 1) grey or (H, W, 3) BGR; alpha (H, W) or None."""
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] in (2, 4):
        return img[..., :-1], img[..., -1]
    return img, None


def to_three_channels(img):
    """(H, W) or (H, W, C) -> (H, W, 3), same dtype: grayscale repeated, alpha dropped."""
    colour, _ = split_alpha(img)
    return np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else np.ascontiguousarray(colour)


def decode_image(content, name):
    """Decode image bytes to a float32 (H, W, 3) BGR array in [0, 1], by the rule of this module."""
    img = to_three_channels(decode_stored(content, name))
    return img.astype(np.float32) / FULL_SCALE[img.dtype]


def read_image(path):
    """Read an image file with ``decode_image``'s rule: float32 (H, W, 3) BGR in [0, 1]."""
    return decode_image(read_bytes(path), path)
