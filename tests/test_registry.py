"""``import msiagan`` makes BasicSR importable on current torchvision and registers our names."""
import importlib

from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY


def test_registered_names():
    assert {'MSIAGenerator', 'PatchGANDiscriminator', 'UNetGenerator'} <= set(ARCH_REGISTRY.keys())
    metrics = {'calculate_brightness_error', 'calculate_psnr_gtmean', 'calculate_ssim_gtmean'}
    assert metrics <= set(METRIC_REGISTRY.keys())
    assert {'MACLoss', 'SSIMLoss', 'PSNRLoss', 'L1Loss', 'GANLoss'} <= set(LOSS_REGISTRY.keys())
    assert 'MSIAGANModel' in MODEL_REGISTRY
    assert 'PairedLowLightDataset' in DATASET_REGISTRY


def test_basicsr_imports_on_current_torchvision():
    degradations = importlib.import_module('basicsr.data.degradations')
    assert callable(degradations.rgb_to_grayscale)
