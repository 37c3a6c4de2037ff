"""Multi-scale adaptive contrast (MAC) loss."""
from basicsr.losses.basic_loss import _reduction_modes
from basicsr.losses.loss_util import reduce_loss
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn
from torch.nn import functional as F

from msiagan.utils.errors import InputError


def global_contrast_normalize(x, eps=1e-6):
    """(x - mean) / (std + eps), mean and population std per image over C, H and W, as released.

    x: (N, C, H, W) -> (N, C, H, W).
    """
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), unbiased=False, keepdim=True)
    return (x - mean) / (std + eps)


def box_filter(x, window):
    """Mean over window x window neighbourhoods, 'valid' positions only, as two 1-D passes."""
    return F.avg_pool2d(F.avg_pool2d(x, (window, 1), stride=1), (1, window), stride=1)


def local_contrast_normalize(x, window, eps):
    """(x - local mean) / sqrt(local variance + eps^2) over a ``window`` x ``window`` neighbourhood.

    Local statistics pool all channels, like the global term; borders are reflect-padded (replicate when
    a side is no longer than half the window, where reflection cannot reach). x: (N, C, H, W) -> (N, C, H, W).
    """
    radius = window // 2
    mode = 'reflect' if radius < min(x.shape[-2:]) else 'replicate'
    padded = F.pad(x, (radius, radius, radius, radius), mode=mode)
    mean = box_filter(padded.mean(1, keepdim=True), window)
    mean_sq = box_filter(padded.square().mean(1, keepdim=True), window)
    variance = (mean_sq - mean.square()).clamp_min(0)
    return (x - mean) / (variance + eps**2).sqrt()


@LOSS_REGISTRY.register()
class MACLoss(nn.Module):
    """Multi-scale adaptive contrast loss: L1 between contrast-normalised prediction and target.

    loss = loss_weight * reduce(global_weight * |G(pred) - G(target)|
                                + local_weight * mean over scales s of |L_s(pred) - L_s(target)|)
    where G is ``global_contrast_normalize`` (the released formula) and L_s is
    ``local_contrast_normalize`` over an s x s window. ``scales: []`` and ``global_weight: 1`` give
    exactly the released loss, mean(|G(target) - G(pred)|).

    Args:
        loss_weight (float): Default: 1.0.
        reduction (str): 'none' (a (N, C, H, W) map) | 'mean' | 'sum'. Default: 'mean'.
        scales (list[int]): Odd local window sizes in pixels. Default: [7, 15, 31].
        global_weight (float): Weight of the global term. Default: 1.0.
        local_weight (float): Weight of the mean of the local terms. Default: 1.0.
        eps (float): Added to the global std, 1e-6 as released. Default: 1e-6.
        local_eps (float): Stabiliser of the local std in [0, 1] intensity units, 0.03 as SSIM's
            sqrt(c2); it keeps flat, noisy regions from being amplified to unit contrast. Default: 0.03.
    """

    def __init__(self,
                 loss_weight=1.0,
                 reduction='mean',
                 scales=(7, 15, 31),
                 global_weight=1.0,
                 local_weight=1.0,
                 eps=1e-6,
                 local_eps=0.03):
        super().__init__()
        if reduction not in _reduction_modes:
            raise InputError(f"MACLoss: reduction '{reduction}' is not one of {_reduction_modes}")
        bad_scales = [s for s in scales if not (isinstance(s, int) and s > 1 and s % 2 == 1)]
        if bad_scales:
            raise InputError(f'MACLoss: scales must be odd window sizes > 1, got {bad_scales}')
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.scales = list(scales)
        self.global_weight = global_weight
        self.local_weight = local_weight
        self.eps = eps
        self.local_eps = local_eps

    def forward(self, pred, target, **kwargs):
        """pred, target: (N, C, H, W) in [0, 1]."""
        loss = self.global_weight * (global_contrast_normalize(pred, self.eps) -
                                     global_contrast_normalize(target, self.eps)).abs()
        if self.scales:
            local = sum((local_contrast_normalize(pred, s, self.local_eps) -
                         local_contrast_normalize(target, s, self.local_eps)).abs() for s in self.scales)
            loss = loss + self.local_weight * local / len(self.scales)
        return self.loss_weight * reduce_loss(loss, self.reduction)
