"""SSIM loss built on BasicSR's own SSIM."""
from basicsr.losses.basic_loss import _reduction_modes
from basicsr.losses.loss_util import reduce_loss
from basicsr.metrics.psnr_ssim import _ssim_pth
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn

from msiagan.utils.errors import InputError


@LOSS_REGISTRY.register()
class SSIMLoss(nn.Module):
    """1 - SSIM, differentiable, computed by the function behind BasicSR's ``calculate_ssim_pt`` metric.

    SSIM as that metric computes it: 11x11 Gaussian window (sigma 1.5), k1 0.01, k2 0.03, data range 1,
    'valid' windows only, averaged over channels. The metric works in float64; the loss in float32
    (12x faster on a CPU), which agrees with it to about 1e-7.

    Args:
        loss_weight (float): Default: 1.0.
        reduction (str): 'none' (one value per image, shape (N,)) | 'mean' | 'sum'. Default: 'mean'.
    """

    def __init__(self, loss_weight=1.0, reduction='mean'):
        super().__init__()
        if reduction not in _reduction_modes:
            raise InputError(f"SSIMLoss: reduction '{reduction}' is not one of {_reduction_modes}")
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, pred, target, **kwargs):
        """pred, target: (N, C, H, W) in [0, 1], H and W at least 11."""
        if min(pred.shape[-2:]) < 11:
            raise InputError(f'SSIMLoss needs images of at least 11x11 pixels, got {tuple(pred.shape[-2:])}')
        ssim = _ssim_pth(pred.float() * 255., target.float() * 255.).to(pred.dtype)
        return self.loss_weight * reduce_loss(1 - ssim, self.reduction)
