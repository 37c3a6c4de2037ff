"""Losses, registered in BasicSR's LOSS_REGISTRY on import. Mean absolute error is BasicSR's L1Loss."""
from .gt_mean_loss import GTMeanLoss
from .mac_loss import MACLoss
from .psnr_loss import PSNRLoss
from .ssim_loss import SSIMLoss

__all__ = ['GTMeanLoss', 'MACLoss', 'PSNRLoss', 'SSIMLoss']
