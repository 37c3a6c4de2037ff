"""PSNR loss: the negative PSNR of each image, averaged, so that training optimises the metric it is judged by."""
import math

import torch
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn


@LOSS_REGISTRY.register()
class PSNRLoss(nn.Module):
    """mean over images of 10 * log10(MSE + eps) = -PSNR in dB for images in [0, 1] (lower is better).

    Unlike L1 or MSE over the whole batch, each image's error counts by its logarithm, as it does in the mean
    PSNR of a test split: an image that is already far off weighs no more than one that is close. (On LOL-v1,
    as pixel_opt in a warm restart, it did no better than L1: docs/results.md.)

    Args:
        loss_weight (float): Default: 1.0.
        eps (float): added to each MSE; bounds the loss at 10 * log10(eps) for a perfect image. Default: 1e-8.
    """

    def __init__(self, loss_weight=1.0, eps=1e-8):
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, pred, target, **kwargs):
        """pred, target: (N, C, H, W) in [0, 1]; returns a scalar."""
        mse = (pred - target).pow(2).flatten(1).mean(1)
        return self.loss_weight * (10 / math.log(10)) * torch.log(mse + self.eps).mean()
