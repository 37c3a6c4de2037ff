"""GT-mean loss (Liao et al., ICCV 2025): L1 that forgives part of a global brightness error, by how far apart the
output's and the reference's mean brightness are."""
import torch
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn

RGB_TO_GREY = (0.299, 0.587, 0.114)


def mean_grey(img):
    """(N,) mean luma of (N, 3, H, W) RGB images."""
    return torch.tensordot(img.mean((2, 3)), img.new_tensor(RGB_TO_GREY), dims=1)


def gaussian_kl(mean_1, std_1, mean_2, std_2):
    """KL(N(mean_1, std_1^2) || N(mean_2, std_2^2)), elementwise."""
    return torch.log(std_2 / std_1) + (std_1**2 + (mean_1 - mean_2)**2) / (2 * std_2**2) - 0.5


def brightness_divergence(mean_pred, mean_target, sigma):
    """(N,) Jensen-Shannon-style divergence of N(m, (sigma m)^2) for the two mean brightnesses (each against their
    average Gaussian): 0 for equal means, growing with their ratio."""
    mean_pred, mean_target = mean_pred.clamp(min=1e-4), mean_target.clamp(min=1e-4)
    std_pred, std_target = sigma * mean_pred, sigma * mean_target
    mid_mean = (mean_pred + mean_target) / 2
    mid_std = ((std_pred**2 + std_target**2) / 2).sqrt()
    return (gaussian_kl(mean_pred, std_pred, mid_mean, mid_std) + gaussian_kl(mean_target, std_target, mid_mean,
                                                                                  mid_std)) / 2


@LOSS_REGISTRY.register()
class GTMeanLoss(nn.Module):
    """Per image: w * L1(pred, target) + (1 - w) * L1(clip(pred * m_target / m_pred), target), averaged over images.

    m: mean brightness (luma); w = clip(divergence of the two means (``brightness_divergence``), 0, 1), held
    constant for the gradient. Equal means give w = 0: only the brightness-matched output counts, so the loss
    teaches structure and colour; far-apart means give w = 1: plain L1, which teaches the brightness too.

    Args:
        loss_weight (float): Default: 1.0.
        sigma (float): relative spread of the brightness distributions; smaller trusts the means more (w grows
            sooner). Default: 0.1 (the paper's).
    """

    def __init__(self, loss_weight=1.0, sigma=0.1):
        super().__init__()
        if not sigma > 0:
            raise ValueError(f'GTMeanLoss: sigma must be above 0, not {sigma}')
        self.loss_weight = loss_weight
        self.sigma = sigma

    def forward(self, pred, target, **kwargs):
        """pred, target: (N, 3, H, W) RGB in [0, 1]; returns a scalar."""
        mean_pred, mean_target = mean_grey(pred), mean_grey(target)
        weight = brightness_divergence(mean_pred, mean_target, self.sigma).clamp(0, 1).detach()
        matched = (pred * (mean_target / mean_pred.clamp(min=1e-4))[:, None, None, None]).clamp(0, 1)
        plain_l1 = (pred - target).abs().flatten(1).mean(1)
        matched_l1 = (matched - target).abs().flatten(1).mean(1)
        return self.loss_weight * (weight * plain_l1 + (1 - weight) * matched_l1).mean()
