"""The two ways PairedLowLightDataset holds a prepared (lq, gt) pair, each with its size, training view and item
tensors: ArrayPairs, (H, W, 3) BGR arrays (read from the files, or ``cache: memory``), and DevicePairs, (3, H, W)
RGB tensors on a device (``cache: device``). Both give the same pixels, crops and flips for the same random state."""
import numpy as np
import torch
from basicsr.data.transforms import augment, paired_random_crop
from basicsr.utils import img2tensor

from .image_io import to_unit_float
from .transforms import flip_and_turn


class ArrayPairs:
    """Pairs as (H, W, 3) BGR arrays: as stored (uint8 or uint16), or float32 in [0, 1] once resized."""

    @staticmethod
    def size(img):
        """(H, W) of an image."""
        return img.shape[:2]

    @staticmethod
    def random_view(lq, gt, gt_size, use_hflip, use_rot, gt_path):
        """(lq, gt, (hflip, vflip, rot90)): the pair cropped to gt_size x gt_size (None: whole) and flipped and
        turned at random, by BasicSR's ``paired_random_crop`` and ``augment``, as new arrays, and what was drawn."""
        if gt_size:
            gt, lq = paired_random_crop(gt, lq, gt_size, 1, gt_path)
        (gt, lq), status = augment([gt.copy(), lq.copy()], use_hflip, use_rot, return_status=True)
        return lq, gt, status

    @staticmethod
    def item_tensors(*images):
        """(3, H, W) float32 RGB tensors in [0, 1], one per image."""
        return img2tensor([to_unit_float(img) for img in images], bgr2rgb=True, float32=True)


class DevicePairs:
    """Pairs as (3, H, W) RGB tensors on a device: uint8, or float32 in [0, 1] for other stored types."""

    @staticmethod
    def from_arrays(pair, device):
        """An ArrayPairs pair moved to ``device``."""
        return tuple(DevicePairs._tensor(img, device) for img in pair)

    @staticmethod
    def _tensor(img, device):
        img = img if img.dtype == np.uint8 else to_unit_float(img)
        return torch.from_numpy(np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1))).to(device)

    @staticmethod
    def size(img):
        """(H, W) of an image."""
        return tuple(img.shape[-2:])

    @staticmethod
    def random_view(lq, gt, gt_size, use_hflip, use_rot, gt_path):
        """ArrayPairs.random_view on the device: BasicSR's crop (of (N, C, H, W) tensors) and its random draws for
        the flips and turns, applied by ``flip_and_turn``."""
        if gt_size:
            gt, lq = (img[0] for img in paired_random_crop(gt[None], lq[None], gt_size, 1, gt_path))
        _, status = augment([], use_hflip, use_rot, return_status=True)
        return flip_and_turn(lq, *status), flip_and_turn(gt, *status), status

    @staticmethod
    def item_tensors(*images):
        """(3, H, W) float32 tensors in [0, 1] on the device, one per image, never views of the held pair."""
        return [img.float() / 255 if img.dtype == torch.uint8 else img.clone() for img in images]
