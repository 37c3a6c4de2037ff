"""Decoding image files into the 3-channel float arrays the networks take, and back.

The rule for every layout: 8-bit values are divided by 255 and 16-bit values by 65535; a grayscale image is
repeated into three channels; an alpha channel is dropped (grayscale + alpha likewise). Photos to enhance
keep their alpha and grayness for the way back (``read_photo``, ``restore_layout``). Training data is
read as stored (no EXIF rotation); photos to enhance are turned upright (``read_photo``).
"""
import io

import cv2
import numpy as np
from PIL import Image

from msiagan.utils.errors import InputError

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


def to_unit_float(img):
    """uint8 or uint16 values -> float32 in [0, 1] by this module's rule; float32 arrays are returned as they are."""
    return img if img.dtype == np.float32 else img.astype(np.float32) / FULL_SCALE[img.dtype]


def decode_image(content, name):
    """Decode image bytes to a float32 (H, W, 3) BGR array in [0, 1], by the rule of this module."""
    return to_unit_float(to_three_channels(decode_stored(content, name)))


def read_bgr_uint8(path):
    """An image file as uint8 (H, W, 3) BGR by this module's rule (16-bit rounded to 8), for BasicSR's metrics."""
    return np.round(decode_image(read_bytes(path), path) * 255).astype(np.uint8)


# EXIF orientation -> how to turn the stored pixels upright (np.rot90 turns counter-clockwise)
_UPRIGHT = {
    2: lambda img: img[:, ::-1],
    3: lambda img: np.rot90(img, 2),
    4: lambda img: img[::-1],
    5: lambda img: img.swapaxes(0, 1),
    6: lambda img: np.rot90(img, -1),
    7: lambda img: np.rot90(img, 2).swapaxes(0, 1),
    8: lambda img: np.rot90(img, 1),
}


def pil_facts(content):
    """(EXIF orientation 1 to 8, PIL mode) of image bytes; (1, None) when PIL cannot read them."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            return image.getexif().get(0x0112, 1), image.mode
    except Exception:  # a format PIL does not read: OpenCV decoded it, that is enough
        return 1, None


def grey_with_alpha(img, content):
    """(H, W, 2) grey + alpha of a photo that PIL reads as 'LA': OpenCV decodes it as BGRA with B = G = R, or
    (TIFF) as grey without its alpha, in which case PIL decodes it."""
    if img.ndim == 3 and img.shape[2] == 4:
        return img[..., [0, 3]]
    with Image.open(io.BytesIO(content)) as image:
        return np.asarray(image)


def read_photo(path):
    """(rgb, layout) of a photo to enhance: rgb float32 (H, W, 3) in [0, 1], upright by its EXIF orientation;
    ``layout`` (grey, alpha, dtype, scale) lets ``restore_layout`` give the result the photo's format."""
    content = read_bytes(path)
    img = decode_stored(content, path)
    orientation, mode = pil_facts(content)
    if mode == 'LA':
        img = grey_with_alpha(img, content)
    img = np.ascontiguousarray(_UPRIGHT.get(orientation, lambda stored: stored)(img))
    colour, alpha = split_alpha(img)
    scale = FULL_SCALE[img.dtype]
    rgb = colour.astype(np.float32) / scale
    rgb = np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb[..., ::-1]
    return np.ascontiguousarray(rgb), dict(grey=colour.shape[2] == 1, alpha=alpha, dtype=img.dtype, scale=scale)


def restore_layout(rgb, layout):
    """Enhanced rgb float (H, W, 3) in [0, 1] -> an array in the photo's bit depth, channels and alpha, for
    cv2.imwrite: (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA; grey + alpha as BGRA with B = G = R (OpenCV
    writes no 2-channel images)."""
    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None] if layout['grey'] else rgb[..., ::-1]
    out = np.round(out * layout['scale']).astype(layout['dtype'])
    if layout['alpha'] is not None:
        out = np.concatenate([np.repeat(out, 3 // out.shape[2], axis=2), layout['alpha'][..., None]], axis=2)
    return out[..., 0] if out.shape[2] == 1 else out
