"""Losses, registered in BasicSR's LOSS_REGISTRY on import. Mean absolute error is BasicSR's L1Loss."""
from .mac_loss import MACLoss
from .psnr_loss import PSNRLoss
from .ssim_loss import SSIMLoss

__all__ = ['MACLoss', 'PSNRLoss', 'SSIMLoss']
