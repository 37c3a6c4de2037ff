"""Steady exposure from frame to frame: what an Enhancer decides per image, smoothed over a video's frames.

Enhancing each frame on its own flickers: the exposure is decided anew on every frame, so noise and small changes
of content make the brightness jump. It is decided in two places, each from numbers of the whole image:

- the generator's global features (``global_features``: what the whole image sets, a scale and shift per feature
  channel, msiagan.archs.global_branch), which set the exposure the generator gives;
- the exposure handling (msiagan.inference.exposure): the input's linear mean and highlights (how much the input is
  scaled, and whether the photo keeps its own exposure); with an exposure condition, also the global features a
  frame is rendered with at its exposure (a bright one, or any at --exposure other than 0). A generator without
  global features (msiagan.inference.generator.has_global_parts) has its output's linear mean averaged instead, and
  a dark frame rescaled to it too (with exposure handling on: it needs the training range); one with them is steady
  already, and its output's mean is taken as it is (averaged once more, it would lag behind the frames shown, and a
  frame where the exposure handling starts to change the output would jump by that lag).

A ``FrameEnhancer`` replaces each of these by its exponential moving average over the frames so far
(``ExponentialSmoother``), with a time constant in seconds: brightness then follows the scene, not the noise. A scene
cut (``SceneCuts``)
starts the averages afresh, so a new scene does not inherit the last one's exposure. Everything else is computed
per frame as for a photo; time constant 0 enhances each frame exactly as ``Enhancer.enhance_tensor`` does.
"""
import math

import numpy as np
import torch
from torch.nn import functional as F

from msiagan.utils.errors import InputError

DEFAULT_TIME_CONSTANT = 0.5  # seconds: msiagan-enhance --temporal-smoothing and Enhancer.frames
CUT_GRID = 8  # scene cuts are read on an 8x8 grid of mean grey over the frame
CUT_CHANGE = 0.2  # a cut: the grid changes by 20% of the frame's mean grey, cell by cell on average


class ExponentialSmoother:
    """Exponential moving averages over a video's frames, one per name: ``smooth(name, value)`` -> the average.

    Each frame's value weighs 1 - exp(-1 / (fps * time_constant)), so a step change is followed to 63% after
    ``time_constant`` seconds whatever the frame rate. A value is a float, a tensor, None, or a dict, tuple or list
    of them (global features are a dict of (scale, shift) tensors, or one tensor from an ONNX export). The first
    value of a name, and the first after ``reset`` or after ``forget(name)``, is taken as it is.
    """

    def __init__(self, time_constant, fps):
        self.weight = 1 - math.exp(-1 / (fps * time_constant))
        self.averages = {}

    def reset(self):
        self.averages.clear()

    def forget(self, name):
        """Drop the average of ``name`` (a value not computed for a frame): the next one is taken as it is."""
        self.averages.pop(name, None)

    def __call__(self, name, value):
        if name in self.averages:
            value = _lerp(self.averages[name], value, self.weight)
        self.averages[name] = value
        return value


def _lerp(average, value, weight):
    """average + weight * (value - average), through dicts, tuples and lists, for tensors and floats."""
    if isinstance(value, dict):
        return {key: _lerp(average[key], item, weight) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_lerp(old, new, weight) for old, new in zip(average, value))
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return torch.lerp(average, value, weight)
    return average + weight * (value - average)


class SceneCuts:
    """Finds scene cuts in a video's frames, fed in order: ``is_cut(frame)``, frame (3, H, W) in [0, 1].

    Each frame is reduced to its mean grey over a CUT_GRID x CUT_GRID grid, divided by the frame's mean grey; a cut
    is where the grid changes from the frame before by more than CUT_CHANGE, cell by cell on average. The grid
    averages away noise and the division makes slow changes of exposure count for little, while another scene (its
    bright parts elsewhere) or light switched on or off (the mean doubling changes the grid by 2/3) counts. Measured:
    at most 0.05 from frame to frame of pan_clip (msiagan.data.low_light) across eval15's references at 96x64
    (0.02 at 640x360); between any two of eval15's 15 low-light inputs, 0.27 to 1.3 (median 0.76).
    """

    def __init__(self):
        self.previous = None

    def is_cut(self, frame):
        grid = F.adaptive_avg_pool2d(frame.float().mean(0, keepdim=True), CUT_GRID)
        previous, self.previous = self.previous, grid
        if previous is None:
            return False
        return float((grid - previous).abs().mean() / ((grid + previous).mean() / 2).clamp(min=1e-4)) > CUT_CHANGE


class FrameEnhancer:
    """An ``Enhancer`` run on a video's frames, fed in order, with what it decides per frame smoothed over time.

    Args:
        enhancer (Enhancer): what enhances each frame.
        fps (float): the video's frames per second.
        time_constant (float): seconds of the exponential moving averages (module docstring); 0: each frame on its
            own, exactly as ``enhancer.enhance_tensor``.
        tile, tile_pad: as ``Enhancer.enhance_tensor`` (the averages are of the whole frame's numbers).

    Attributes:
        cuts (int): the scene cuts found so far (each started the averages afresh).
    """

    def __init__(self, enhancer, fps, time_constant, tile=0, tile_pad=None):
        if not fps > 0 or not time_constant >= 0:
            raise InputError(f'fps {fps}, temporal smoothing {time_constant} s: need fps > 0 and 0 s or more')
        self.enhancer, self.tile, self.tile_pad = enhancer, tile, tile_pad
        self.smoother = ExponentialSmoother(time_constant, fps) if time_constant > 0 else None
        self.scene_cuts = SceneCuts()
        self.cuts = 0

    def enhance_tensor(self, x):
        """The next frame, x (1, C, H, W) in [0, 1] -> (1, C_out, H, W) float32 in [0, 1] on x's device."""
        if self.smoother is None:
            return self.enhancer.enhance_tensor(x, self.tile, self.tile_pad)
        if self.scene_cuts.is_cut(x[0]):
            self.smoother.reset()
            self.cuts += 1
        return self.enhancer.enhance_tensor(x, self.tile, self.tile_pad, smooth=self.smoother)

    def enhance_rgb_uint8(self, frame):
        """The next frame, uint8 (H, W, 3) RGB -> the same (rounded, as ``Enhancer.enhance_bgr_uint8``)."""
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
        out = self.enhance_tensor(x)[0].permute(1, 2, 0).cpu().numpy()
        return np.round(out * 255).astype(np.uint8)
