"""Training inputs saved as JPEG at a random quality (datasets:train:jpeg_inputs), as cameras and phones save photos.

A dark JPEG loses detail to the quantisation that a bright one hides: the steps are the same, the signal a tenth,
and enhancing brightens both (docs/enhancing.md#jpeg-inputs). With this option a share of the training inputs is
encoded with OpenCV's JPEG encoder (4:2:0 chroma) at a quality drawn uniformly from a range, and decoded again; the
target stays as it is, so the generator learns to undo JPEG's blocks and ringing. It is applied to the crop, after
everything else that makes the input (exposure_synthesis included): its 8x8 blocks start at the crop's corner, as a
photo's start at its corner and at each of its tiles' (msiagan.inference.tiling starts them on multiples of 8). The
whole frame the global branch reads (lq_frame) is left as it is (its statistics barely change).
"""
import cv2
import numpy as np
import torch

from msiagan.data.image_io import to_unit_float
from msiagan.utils.errors import InputError

DEFAULTS = {'probability': 0.5, 'quality': [30, 95]}


class JpegInputs:
    """The options of datasets:train:jpeg_inputs, checked; calling it saves an input as JPEG, or not (``draw``).

    Options:
        probability (float): share of the inputs saved as JPEG. Default: 0.5.
        quality ([low, high] or int): the JPEG quality, from 1 to 100, drawn uniformly (integers). Default: [30, 95].
    """

    def __init__(self, opt, where):
        opt = {**DEFAULTS, **(opt or {})}
        unknown = sorted(set(opt) - set(DEFAULTS), key=str)
        if unknown:
            raise InputError(f"{where}: unknown option '{unknown[0]}' (it takes: {', '.join(DEFAULTS)})")
        probability = opt['probability']
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise InputError(f'{where}:probability: {probability!r} is not a number from 0 to 1')
        quality = opt['quality']
        bounds = quality if isinstance(quality, (list, tuple)) else [quality]
        if not 1 <= len(bounds) <= 2 or any(isinstance(b, bool) or not isinstance(b, int) for b in bounds) or \
                not 1 <= bounds[0] <= bounds[-1] <= 100:
            raise InputError(f'{where}:quality: {quality!r} is not an integer or a [low, high] range within [1, 100]')
        self.probability, self.quality = float(probability), (bounds[0], bounds[-1])

    def draw(self, generator=None):
        """The quality to save one input at, or None to leave it as it is (two uniform draws)."""
        u = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
        if u[0] >= self.probability:
            return None
        low, high = self.quality
        return min(low + int(u[1] * (high - low + 1)), high)

    def __call__(self, lq, generator=None):
        """``lq`` saved as JPEG at a drawn quality and read back, or as it is: an (H, W, 3) BGR array (uint8; or
        uint16 or float32 in [0, 1], whose 8-bit values it takes) or a (3, H, W) RGB tensor of such on any device;
        the same layout, type and device."""
        quality = self.draw(generator)
        if quality is None:
            return lq
        if isinstance(lq, np.ndarray):
            return from_uint8(save_as_jpeg(to_uint8(lq), quality), lq.dtype)
        bgr = to_uint8(lq.detach().cpu().numpy()[::-1].transpose(1, 2, 0))
        rgb = torch.from_numpy(np.ascontiguousarray(save_as_jpeg(bgr, quality)[..., ::-1].transpose(2, 0, 1)))
        return (rgb if lq.dtype == torch.uint8 else rgb.to(lq.dtype) / 255).to(lq.device)


def to_uint8(img):
    """An (H, W, 3) array as 8-bit values: uint8 as it is, else its ``to_unit_float`` values * 255, rounded."""
    if img.dtype == np.uint8:
        return img
    return np.round(np.clip(to_unit_float(img), 0, 1) * 255).astype(np.uint8)


def from_uint8(img, dtype):
    """A uint8 (H, W, 3) array as ``dtype``: uint8 as it is, uint16 * 257, float / 255."""
    if dtype == np.uint8:
        return img
    return img.astype(np.uint16) * 257 if dtype == np.uint16 else (img / 255).astype(dtype)


def save_as_jpeg(bgr, quality):
    """A uint8 (H, W, 3) BGR image encoded as JPEG at ``quality`` (OpenCV, 4:2:0) and decoded again."""
    encoded = cv2.imencode('.jpg', np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)
