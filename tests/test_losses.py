"""MACLoss, SSIMLoss, PSNRLoss and GTMeanLoss against independent computations (NumPy, SciPy, scikit-image, BasicSR's metrics)."""
import numpy as np
import pytest
import torch
from basicsr.metrics.psnr_ssim import calculate_psnr_pt, calculate_ssim_pt
from scipy.ndimage import uniform_filter
from skimage.metrics import structural_similarity

from msiagan.losses import GTMeanLoss, MACLoss, PSNRLoss, SSIMLoss


@pytest.fixture
def images():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 40, 36, generator=generator)
    pred = (0.6 * target + 0.3 * torch.rand(2, 3, 40, 36, generator=generator)).double()
    return pred, target.double()


def np_global_normalize(y):
    mean = y.mean(axis=(1, 2, 3), keepdims=True)
    std = np.sqrt(((y - mean)**2).mean(axis=(1, 2, 3), keepdims=True))
    return (y - mean) / (std + 1e-6)


def np_local_normalize(y, window, eps):
    # 'mirror' in SciPy is reflection about the edge pixel, as torch's 'reflect' padding
    mean = uniform_filter(y.mean(axis=1), size=(1, window, window), mode='mirror')[:, None]
    mean_sq = uniform_filter((y**2).mean(axis=1), size=(1, window, window), mode='mirror')[:, None]
    return (y - mean) / np.sqrt(np.maximum(mean_sq - mean**2, 0) + eps**2)


def test_mac_reduces_to_the_released_formula(images):
    pred, target = images
    loss = MACLoss(scales=[], loss_weight=30.0)(pred, target)
    expected = np.abs(np_global_normalize(target.numpy()) - np_global_normalize(pred.numpy())).mean()
    assert loss.item() == pytest.approx(30.0 * expected, rel=1e-10)


def test_mac_multi_scale_matches_numpy(images):
    pred, target = images
    p, t = pred.numpy(), target.numpy()
    scales, eps = [3, 7, 15], 0.03
    local = np.mean([np.abs(np_local_normalize(p, s, eps) - np_local_normalize(t, s, eps)).mean() for s in scales])
    expected = 0.5 * np.abs(np_global_normalize(p) - np_global_normalize(t)).mean() + 2.0 * local
    loss = MACLoss(scales=scales, global_weight=0.5, local_weight=2.0, local_eps=eps)(pred, target)
    assert loss.item() == pytest.approx(expected, rel=1e-8)


def test_mac_reductions_and_invariance(images):
    pred, target = images
    loss = MACLoss()
    assert loss(target, target).item() == 0
    # contrast normalisation: a global gain and offset of the prediction does not change the global term
    global_only = MACLoss(scales=[])
    assert global_only(2 * pred + 0.1, target).item() == pytest.approx(global_only(pred, target).item(), rel=1e-5)
    per_pixel = MACLoss(reduction='none')(pred, target)
    assert per_pixel.shape == pred.shape
    assert MACLoss(reduction='sum')(pred, target).item() == pytest.approx(per_pixel.sum().item())
    assert loss(pred, target).item() == pytest.approx(per_pixel.mean().item())


def test_mac_rejects_even_windows():
    with pytest.raises(ValueError, match='odd'):
        MACLoss(scales=[8])


def test_ssim_loss_equals_one_minus_basicsr_ssim(images):
    pred, target = (x.float() for x in images)
    expected = 1 - calculate_ssim_pt(pred, target, crop_border=0)
    per_image = SSIMLoss(reduction='none')(pred, target)
    assert per_image.shape == (2,)
    torch.testing.assert_close(per_image.double(), expected, atol=1e-6, rtol=0)
    assert SSIMLoss(loss_weight=20.0)(pred, target).item() == pytest.approx(20 * expected.mean().item(), rel=1e-5)


def test_ssim_loss_matches_scikit_image(images):
    pred, target = images
    for i in range(2):
        ssim = structural_similarity(pred[i].numpy(), target[i].numpy(), channel_axis=0, data_range=1.0,
                                     gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert SSIMLoss(reduction='none')(pred, target)[i].item() == pytest.approx(1 - ssim, abs=1e-6)


def test_psnr_loss_is_minus_basicsrs_mean_psnr(images):
    pred, target = images
    psnr = calculate_psnr_pt(pred, target, crop_border=0)  # one value per image, in dB, with the same eps 1e-8
    assert PSNRLoss(loss_weight=0.5)(pred, target).item() == pytest.approx(-0.5 * psnr.mean().item(), rel=1e-10)


def test_psnr_loss_weighs_each_image_by_the_log_of_its_error():
    target = torch.full((2, 3, 8, 8), 0.5)
    pred = target + torch.tensor([0.01, 0.2]).view(2, 1, 1, 1)  # one image close, one far off
    pred.requires_grad_()
    PSNRLoss()(pred, target).backward()
    grad_close, grad_far = pred.grad[0].abs().mean().item(), pred.grad[1].abs().mean().item()
    assert grad_close == pytest.approx(20 * grad_far, rel=1e-4)  # gradient of log(e^2) ~ 1/e, unlike MSE's ~ e
    assert PSNRLoss()(target, target).item() == pytest.approx(-80.0)  # bounded by eps 1e-8


@pytest.mark.parametrize('loss', [MACLoss(), SSIMLoss(), PSNRLoss(), GTMeanLoss()])
def test_losses_are_differentiable(images, loss):
    pred, target = images
    pred = pred.clone().requires_grad_()
    loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def grey(img):
    return (0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]).mean((1, 2))


def test_gt_mean_loss_forgives_a_small_brightness_error_and_not_a_large_one():
    target = 0.1 + 0.5 * torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise = 0.02 * torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pred = (target + noise) * torch.tensor([1.0, 1.03, 0.4], dtype=torch.float64)[:, None, None, None]
    per_image = [GTMeanLoss(loss_weight=2.0)(pred[i:i + 1], target[i:i + 1]).item() for i in range(3)]
    plain = [2 * (pred[i] - target[i]).abs().mean().item() for i in range(3)]
    matched = [2 * ((pred[i] * grey(target[i:i + 1]) / grey(pred[i:i + 1])).clamp(0, 1) - target[i]).abs().mean().item()
               for i in range(3)]
    assert per_image[0] == pytest.approx(plain[0], rel=0.05)  # means equal: brightness-matched = plain
    assert matched[1] < per_image[1] < plain[1]  # 3% brighter: mostly forgiven
    assert per_image[2] == pytest.approx(plain[2], rel=1e-6)  # 0.4x: plain L1, which teaches the brightness
    assert GTMeanLoss(loss_weight=2.0)(pred, target).item() == pytest.approx(np.mean(per_image), rel=1e-6)
    assert GTMeanLoss()(target, target).item() == 0
