"""One object for a trained generator and the way it runs, as Real-ESRGAN's ``RealESRGANer``: msiagan-enhance,
scripts/metrics/compare.py and scripts/metrics/demo_report.py build their generators through it.

    from msiagan.inference import Enhancer
    enhanced = Enhancer(fast=True).enhance_bgr_uint8(cv2.imread('dark.png'))   # the shipped LOL-v1 weights
"""
import torch

from msiagan.utils.weights import SHIPPED_WEIGHTS, find_options

from .fast_inference import optimize_for_inference
from .generator import load_generator, network_options_from
from .tiling import enhance_bgr_uint8, enhance_tensor


class Enhancer:
    """A trained generator, in eval mode on ``device``, ready to enhance images.

    Args:
        weights (str): A BasicSR checkpoint or a bare state dict. Default: the shipped LOL-v1 weights.
        network (str | None): An options file (its network_g) or a registered arch name (its default arguments).
            Default: the options file beside the weights, or their experiment's copy.
        param_key (str | None): Which weights of a checkpoint. Default: 'params_ema' if present, else 'params'.
        device (str): 'cpu' or 'cuda'. Default: 'cpu'.
        half (bool): Float16 weights and inputs (for a GPU). Default: False.
        fast (bool): On the CPU, run an MSIAGenerator through ``optimize_for_inference`` (the same output to about
            1e-7, several times faster). Default: False (the eager network, e.g. to time or count it).

    Attributes:
        net (nn.Module): What runs: the generator, or its fast CPU version.
    """

    def __init__(self, weights=SHIPPED_WEIGHTS, network=None, param_key=None, device='cpu', half=False, fast=False):
        self.device, self.dtype = device, torch.float16 if half else torch.float32
        network_opt = network_options_from(network or find_options(weights))
        net = load_generator(network_opt, weights, param_key, device).to(self.dtype)
        self.net = optimize_for_inference(net) if fast and device == 'cpu' else net

    def enhance_tensor(self, x, tile=0, tile_pad=None):
        """x (N, C, H, W) in [0, 1] -> (N, C_out, H, W) float32 in [0, 1] on x's device (tiles: ``enhance_tensor``)."""
        return enhance_tensor(self.net, x.to(self.device, self.dtype), tile, tile_pad).float().to(x.device)

    def enhance_bgr_uint8(self, img):
        """uint8 (H, W, 3) BGR -> uint8 (H, W, 3) BGR."""
        return enhance_bgr_uint8(self.net, img, self.device, self.dtype)
