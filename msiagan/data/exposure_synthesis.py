"""Training inputs made from the references at any darkness (datasets:train:exposure_synthesis).

A reference is taken to linear light (the sRGB curve), scaled by an exposure factor 2 ** U(log2_exposure), turned
into photo-electrons (``full_well`` electrons for white at the reference's exposure), given shot and read noise
(the Poisson-Gaussian model, sampled by its heteroscedastic Gaussian approximation: mean e, variance
e + read_noise ** 2 electrons ** 2), and brought back to sRGB and 8 bits: what a camera would have recorded with that
much less light. The target stays the reference, so the generator learns to bring any darkness to it. With
``reference_probability`` the input is the reference itself, which must come back unchanged.

Per item, one uniform draw picks the input: the reference (``reference_probability``), a synthesized capture
(``probability``), or the dataset's own low-light image (the rest).
"""
import math
from functools import lru_cache

import numpy as np
import torch

from msiagan.utils.errors import InputError

# option: (default, lowest allowed, highest allowed); a number or a [low, high] range, drawn per item (log-uniform
# for full_well and read_noise, uniform for log2_exposure)
RANGES = {
    'log2_exposure': ([-8.0, 0.0], -16.0, 0.0),
    'full_well': ([2000.0, 20000.0], 1.0, 1e7),
    'read_noise': ([0.5, 4.0], 0.0, 1e4),
}
PROBABILITIES = ('probability', 'reference_probability')
LINEAR_LEVELS = 65535  # linear light is quantized to this many steps on the way back to sRGB (a lookup table)


def srgb_to_linear(x):
    """sRGB values in [0, 1] (tensor) -> linear light in [0, 1]."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055)**2.4)


def linear_to_srgb(x):
    """Linear light in [0, 1] (tensor) -> sRGB values in [0, 1]."""
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=0.0031308)**(1 / 2.4) - 0.055)


UINT8_TO_LINEAR = srgb_to_linear(torch.arange(256, dtype=torch.float32) / 255)
LINEAR_TO_UINT8 = torch.round(linear_to_srgb(torch.arange(LINEAR_LEVELS + 1, dtype=torch.float64) / LINEAR_LEVELS)
                              * 255).to(torch.uint8)


@lru_cache(maxsize=None)
def lookup_tables(device):
    """(UINT8_TO_LINEAR, LINEAR_TO_UINT8) on ``device``, copied there once."""
    return UINT8_TO_LINEAR.to(device), LINEAR_TO_UINT8.to(device)


class ExposureSynthesis:
    """The options of datasets:train:exposure_synthesis, checked; ``choose`` and ``capture`` make an item's input.

    Options:
        probability (float): share of items whose input is synthesized from the reference. Default: 0.5.
        reference_probability (float): share of items whose input is the reference itself. Default: 0.1.
        log2_exposure ([low, high] or number): log2 of the exposure factor in linear light, uniform. Default: [-8, 0].
        full_well ([low, high] or number): photo-electrons of a white pixel at the reference's exposure,
            log-uniform. Default: [2000, 20000].
        read_noise ([low, high] or number): std of the read noise in electrons, log-uniform (uniform from 0).
            Default: [0.5, 4].
    """

    def __init__(self, opt, where):
        opt = dict(opt or {})
        unknown = sorted(set(opt) - set(RANGES) - set(PROBABILITIES))
        if unknown:
            raise InputError(f"{where}: unknown option '{unknown[0]}' (it takes: "
                             f"{', '.join(PROBABILITIES + tuple(RANGES))})")
        self.probability = self._probability(opt, 'probability', 0.5, where)
        self.reference_probability = self._probability(opt, 'reference_probability', 0.1, where)
        if self.probability + self.reference_probability > 1:
            raise InputError(f'{where}: probability + reference_probability is {self.probability} + '
                             f'{self.reference_probability}, more than 1')
        self.ranges = {name: self._range(opt, name, where) for name in RANGES}

    @staticmethod
    def _probability(opt, name, default, where):
        value = opt.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InputError(f'{where}:{name}: {value!r} is not a number from 0 to 1')
        return float(value)

    @staticmethod
    def _range(opt, name, where):
        default, lowest, highest = RANGES[name]
        value = opt.get(name, default)
        bounds = value if isinstance(value, (list, tuple)) else [value]
        if (not 1 <= len(bounds) <= 2 or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)
                or not lowest <= min(bounds) <= max(bounds) <= highest or bounds[0] > bounds[-1]):
            raise InputError(f'{where}:{name}: {value!r} is not a number or a [low, high] range within '
                             f'[{lowest:g}, {highest:g}]')
        return float(bounds[0]), float(bounds[-1])

    def choose(self, generator=None):
        """'reference', 'synthesized' or 'dataset': where this item's input comes from (one uniform draw)."""
        u = torch.rand((), generator=generator).item()
        if u < self.reference_probability:
            return 'reference'
        return 'synthesized' if u < self.reference_probability + self.probability else 'dataset'

    def draw_capture(self, generator=None):
        """{'exposure', 'full_well', 'read_noise'}: the settings of one synthesized capture."""
        u = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
        low, high = self.ranges['log2_exposure']
        settings = {'exposure': 2**(low + (high - low) * u[0])}
        for name, draw in zip(('full_well', 'read_noise'), u[1:]):
            low, high = self.ranges[name]
            settings[name] = (low if low == high else low + (high - low) * draw if low == 0 else
                              math.exp(math.log(low) + (math.log(high) - math.log(low)) * draw))
        return settings

    def capture(self, reference, generator=None):
        """A synthesized low-light capture of ``reference``, an (H, W, C) numpy array (uint8; or uint16 or float32
        in [0, 1], whose 8-bit values it takes) or a (C, H, W) tensor of such: the same layout, uint8 if the
        reference is, else float32 values k / 255."""
        settings = self.draw_capture(generator)
        source = torch.from_numpy(reference) if isinstance(reference, np.ndarray) else reference
        low_light = synthesize_capture(source, generator=generator, **settings)
        if source.dtype != torch.uint8:
            low_light = low_light.float() / 255
        return low_light.numpy() if isinstance(reference, np.ndarray) else low_light


def synthesize_capture(reference, exposure, full_well, read_noise, generator=None):
    """``reference`` (any shape; uint8, or float/uint16 rounded to 8 bits first) shot with ``exposure`` times its
    light: uint8 of the same shape. Electrons e = linear * exposure * full_well, plus noise of variance
    e + read_noise ** 2, clipped to [0, full_well], back to sRGB."""
    if reference.dtype == torch.uint16:
        reference = reference.float() / 65535
    if reference.dtype != torch.uint8:
        reference = torch.round(reference.float().clamp(0, 1) * 255).to(torch.uint8)
    to_linear, to_uint8 = lookup_tables(reference.device)
    electrons = to_linear[reference.long()] * (exposure * full_well)
    noise = torch.randn(electrons.shape, generator=generator, device=reference.device)
    electrons += noise.mul_(electrons.add(read_noise**2).sqrt_())
    levels = electrons.mul_(LINEAR_LEVELS / full_well).round_().clamp_(0, LINEAR_LEVELS).long()
    return to_uint8[levels]
