"""Decoding image files into the 3-channel float arrays the networks take."""
import cv2
import numpy as np

from msiagan.errors import InputError

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pnm')

_FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def full_scale(img, name):
    """The value of full white for ``img``'s pixel type: 255 (8-bit) or 65535 (16-bit)."""
    if img.dtype not in _FULL_SCALE:
        raise InputError(f'{name}: unsupported pixel type {img.dtype} (8- or 16-bit images only)')
    return _FULL_SCALE[img.dtype]


def split_alpha(img):
    """(colour, alpha) of an OpenCV image: colour (H, W, 1) grey or (H, W, 3) BGR; alpha (H, W) or None."""
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] in (2, 4):
        return img[..., :-1], img[..., -1]
    return img, None


def decode_image(content, name):
    """Decode image bytes to a float32 (H, W, 3) BGR array in [0, 1].

    The rule for other layouts: 8-bit values are divided by 255 and 16-bit values by 65535; a grayscale
    image is repeated into three channels; an alpha channel is dropped (grayscale + alpha likewise).
    ``name`` (a path or LMDB key) is named in the error for bytes that do not decode.
    """
    img = None if content is None else cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f'{name}: cannot read this image (missing, truncated or not an image)')
    colour, _ = split_alpha(img)
    colour = colour.astype(np.float32) / full_scale(img, name)
    return np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour


def read_image(path):
    """Read an image file with ``decode_image``'s rule: float32 (H, W, 3) BGR in [0, 1]."""
    try:
        with open(path, 'rb') as f:
            content = f.read()
    except OSError as error:
        raise InputError(f'{path}: cannot open ({error.strerror})') from None
    return decode_image(content, path)
