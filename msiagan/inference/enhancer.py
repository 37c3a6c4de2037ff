"""One object for a trained generator and the way it runs, as Real-ESRGAN's ``RealESRGANer``: msiagan-enhance,
scripts/metrics/compare.py and scripts/metrics/demo_report.py build their generators through it.

    from msiagan.inference import Enhancer
    enhanced = Enhancer(fast=True).enhance_bgr_uint8(cv2.imread('dark.png'))   # the shipped LOL-v1 weights
    frames = Enhancer(fast=True).frames(fps=30)      # a video: frames.enhance_tensor(frame) on each frame, in order
"""
import copy

import cv2
import numpy as np
import torch

from msiagan.utils.errors import InputError
from msiagan.utils.weights import SHIPPED_WEIGHTS, find_options

from .exposure import ExposureControl, ExposureRange
from .fast_inference import optimize_for_inference
from .generator import has_global_parts, load_generator, network_options_from
from .onnx_runtime import OnnxGenerator
from .temporal import DEFAULT_TIME_CONSTANT, FrameEnhancer
from .tiling import enhance_tensor


class Enhancer:
    """A trained generator, in eval mode on ``device``, ready to enhance images, with exposure handled on purpose.

    Args:
        weights (str): A BasicSR checkpoint or a bare state dict. Default: the shipped LOL-v1 weights.
        network (str | None): An options file (its network_g) or a registered arch name (its default arguments).
            Default: the options file beside the weights, or their experiment's copy.
        param_key (str | None): Which weights of a checkpoint. Default: 'params_ema' if present, else 'params'.
        device (str): 'cpu' or 'cuda'. Default: 'cpu'.
        half (bool): Float16 weights and inputs (for a GPU). Default: False.
        fast (bool): On the CPU, run an MSIAGenerator through ``optimize_for_inference`` (the same output to about
            1e-7, several times faster). Default: False (the eager network, e.g. to time or count it).
        exposure_handling (bool): Inputs brought within the darkness the generator was trained on, and the output's
            exposure set on purpose: the generator's for dark photos, the photo's own for well-exposed ones
            (msiagan.inference.exposure). Needs the training range stored in ``<weights stem>.yml`` beside the
            weights; without it the generator runs alone. Default: True. False: the generator alone.
        exposure (float): The output brighter (+) or darker (-) than the default by this many stops, highlights
            rolled off rather than clipped; 0 (default) changes nothing.
        render_exposure (bool): For a generator that takes an exposure (MSIAGenerator's exposure_condition, or an
            ONNX export of one), the exposure handling renders the exposure it sets with it, then rescales to it
            exactly; False: it only rescales the generator's own output, as for any other generator. Default: True.
        onnx (str | None): Run this ONNX export of a generator (scripts/model_conversion/export_onnx.py) through
            onnxruntime on the CPU instead (``OnnxGenerator``; needs ``pip install 'msiagan[onnx]'``); weights,
            network, param_key, device, half and fast are then unused, and the training range is the one stored
            in the file. Default: None.

    Attributes:
        net (nn.Module | OnnxGenerator): What runs: the generator, its fast CPU version, or the ONNX export.
        exposure_handling (str): 'on', 'off' (asked) or 'no range' (none stored beside the weights, or in the ONNX
            file).
        has_global_features (bool): whether ``net``'s output depends on features of the whole image other than an
            exposure asked for (``global_features``): tiles and a video's frames are given the whole frame's, and
            averaged over frames they make the output steady (``has_global_parts``).
    """

    def __init__(self, weights=SHIPPED_WEIGHTS, network=None, param_key=None, device='cpu', half=False, fast=False,
                 exposure_handling=True, exposure=0.0, onnx=None, render_exposure=True):
        if onnx is not None:
            self.device, self.dtype = 'cpu', torch.float32
            self.net = OnnxGenerator(onnx)
            stored_range = self.net.exposure_range if exposure_handling else None
        else:
            self.device, self.dtype = device, torch.float16 if half else torch.float32
            network_opt = network_options_from(network or find_options(weights))
            net = load_generator(network_opt, weights, param_key, device).to(self.dtype)
            self.net = optimize_for_inference(net) if fast and device == 'cpu' else net
            stored_range = ExposureRange.beside(weights) if exposure_handling else None
        self.exposure_handling = 'off' if not exposure_handling else 'no range' if stored_range is None else 'on'
        self.exposure_control = ExposureControl(stored_range, exposure)
        self.renders_exposure = render_exposure and getattr(self.net, 'exposure_condition', None) is not None

    @property
    def has_global_features(self):
        return has_global_parts(self.net)

    def at_exposure(self, exposure):
        """This enhancer (the same network, sharing it) with ``exposure`` stops instead (``Enhancer``'s argument)."""
        other = copy.copy(self)
        other.exposure_control = ExposureControl(self.exposure_control.range, exposure)
        return other

    def enhance_tensor(self, x, tile=0, tile_pad=None, smooth=None):
        """x (N, C, H, W) in [0, 1] -> (N, C_out, H, W) float32 in [0, 1] on x's device (tiles: ``enhance_tensor``;
        the exposure is handled on the whole image).

        smooth (ExponentialSmoother | None): for a video's frames, one at a time (``frames``): ``smooth(name,
        value)`` gives what the frame uses instead of each number it decides its exposure from: the generator's global
        features, those it is rendered with at an exposure, and the exposure handling's numbers
        (msiagan.inference.temporal); ``smooth.forget(name)`` drops the average of what the frame did not compute.
        """
        if smooth is not None and len(x) != 1:
            raise InputError(f'smoothing over frames takes one frame at a time, not {len(x)}')
        device = x.device
        ran = set()  # which of the generator's own choice and the render ran, for smooth

        def generate(image):
            ran.add('global features')
            return self.generate(image, tile, tile_pad, smooth)

        def render(image, exposure):
            ran.add('rendered global features')
            features = self.net.global_features(image, exposure)
            if smooth is not None:
                features = smooth('rendered global features', features)
            return enhance_tensor(self.net, image, tile, tile_pad, global_features=features)

        with torch.no_grad():
            out = self.exposure_control.run(generate, x.to(self.device, self.dtype), smooth,
                                            render if self.renders_exposure else None,
                                            steady=self.has_global_features)
        if smooth is not None:  # an average this frame did not compute is dropped, not taken up stale later
            for name in {'global features', 'rendered global features'} - ran:
                smooth.forget(name)
        return out.float().to(device)

    def generate(self, x, tile, tile_pad, smooth):
        """The generator on x, whole or in tiles, with its global features passed through ``smooth``, if given."""
        if smooth is None or not self.has_global_features:
            return enhance_tensor(self.net, x, tile, tile_pad)
        features = smooth('global features', self.net.global_features(x))
        return enhance_tensor(self.net, x, tile, tile_pad, global_features=features)

    def frames(self, fps, temporal_smoothing=DEFAULT_TIME_CONSTANT, tile=0, tile_pad=None):
        """A ``FrameEnhancer`` for a video's frames: ``.enhance_tensor(frame)`` or ``.enhance_rgb_uint8(frame)`` on
        each, in order, with the exposure steady from frame to frame (``temporal_smoothing``: the time constant in
        seconds; 0: each frame on its own)."""
        return FrameEnhancer(self, fps, temporal_smoothing, tile, tile_pad)

    def enhance_bgr_uint8(self, img):
        """uint8 (H, W, 3) BGR -> uint8 (H, W, 3) BGR (rounded, as BasicSR's tensor2img)."""
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        out = self.enhance_tensor(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0]
        return cv2.cvtColor(np.round(out.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
