"""What the MSIA generator learns from the whole image (our additions): per-channel scales and shifts.

Each module here maps the whole image x (N, C, H, W) in [0, 1] to a dict of modulations: place -> (scale,
shift), (N, F, 1, 1) each, applied as features * scale + shift where the generator reaches that place
('coarse': AE3's 1/8-scale features before its decoder; 'head': the head's input). Each starts at scale 1,
shift 0 (its last layer is zero), so a generator with it starts out computing what it computes without it.
"""
import torch
from torch import nn
from torch.nn import functional as F

from msiagan.utils.errors import InputError


class ImageContext(nn.Module):
    """What a receptive field of 20 to 28 pixels cannot see: the exposure of the whole image.

    ``statistics(x)`` reduces x (N, C, H, W) in [0, 1] to (N, 2C): the log of each channel's mean and standard
    deviation over H and W. ``forward(x, statistics)`` maps them through a small MLP to a per-channel scale and shift
    of the head's F input channels: {'head': (scale, shift)}. (Each module here is given x's ``statistics``:
    ``whole_image_modulations`` computes them once for all.)
    """

    def __init__(self, num_in_ch, num_feat):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * num_in_ch, num_feat), nn.LeakyReLU(0.2),
                                 nn.Linear(num_feat, 2 * num_feat))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    @staticmethod
    def statistics(x):
        std, mean = torch.std_mean(x, dim=(-2, -1), correction=0)
        return torch.log(torch.cat([mean, std], 1) + 1e-3)

    def forward(self, x, statistics):
        scale, shift = self.mlp(statistics)[..., None, None].chunk(2, dim=1)
        return {'head': (1 + scale, shift)}


class GlobalBranch(nn.Module):
    """A small CNN over the whole image that scales and shifts AE3's 1/8-scale features and the head's input.

    x (N, C, H, W) is area-averaged to 1/4 of H and W (rounded up, so every pixel counts), three 3x3 stride-2
    convs with LeakyReLU(0.2), F, 2F and 4F channels wide, bring it to 1/32, and their mean over H and W, with
    ``ImageContext.statistics(x)``, goes through a two-layer MLP to {'coarse': (scale, shift), 'head': (scale,
    shift)}, F channels each. Its convs see a fixed number of pixels whatever the image's size, so a 128x128
    training crop and a 600x400 frame are read at the same scale; only the area averaged over grows. Cost: about
    0.01 GMAC at 256x256 with F = 32.
    """

    def __init__(self, num_in_ch, num_feat):
        super().__init__()
        widths = [num_in_ch, num_feat, 2 * num_feat, 4 * num_feat]
        self.convs = nn.Sequential(*[layer for c_in, c_out in zip(widths, widths[1:])
                                     for layer in (nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2))])
        self.mlp = nn.Sequential(nn.Linear(widths[-1] + 2 * num_in_ch, widths[-1]), nn.LeakyReLU(0.2),
                                 nn.Linear(widths[-1], 4 * num_feat))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x, statistics):
        pooled = self.convs(area_average(x, 4)).mean(dim=(-2, -1))
        coarse_scale, coarse_shift, head_scale, head_shift = self.mlp(
            torch.cat([pooled, statistics], 1))[..., None, None].chunk(4, dim=1)
        return {'coarse': (1 + coarse_scale, coarse_shift), 'head': (1 + head_scale, head_shift)}


def area_average(x, factor):
    """x (N, C, H, W) averaged to (N, C, ceil(H / factor), ceil(W / factor)), as ``F.adaptive_avg_pool2d`` does.

    While torch.export traces it (ONNX export): as sums of factor + 1 gathered rows, then columns, masked to each
    output pixel's window, whose sizes follow H and W in the graph (ONNX's AveragePool would fix the traced ones).
    A window spans fewer than H / ceil(H / factor) + 2 <= factor + 2 rows, so factor + 1 gathers cover it.
    """
    sizes = [(size + factor - 1) // factor for size in x.shape[-2:]]  # no negative floor division: ONNX's truncates
    if not torch.compiler.is_exporting():
        return F.adaptive_avg_pool2d(x, sizes)
    for dim, size in zip((-2, -1), sizes):
        x = _windowed_mean(x, dim, size, factor + 1)
    return x


def _windowed_mean(x, dim, size, taps):
    """The adaptive average along ``dim`` to ``size`` outputs, each window at most ``taps`` long: output i averages
    the inputs floor(i L / size) to ceil((i + 1) L / size) - 1 of the L along ``dim``."""
    length = x.shape[dim]
    index = torch.arange(size, device=x.device)
    start, end = index * length // size, ((index + 1) * length + size - 1) // size
    shape = (-1, 1) if dim == -2 else (-1,)
    total = 0
    for tap in range(taps):
        source = start + tap
        weight = (source < end).to(x.dtype).view(shape)
        total = total + x.index_select(dim, torch.clamp(source, max=length - 1)) * weight
    return total / (end - start).to(x.dtype).view(shape)


class ExposureCondition(nn.Module):
    """The exposure an output should have, given on purpose: per-channel scales and shifts from a target exposure.

    ``forward(x, exposure, statistics)`` maps the log of ``exposure`` (N,), the target linear mean of the output
    (msiagan.metrics.exposure: the mean of v ** 2.2 over pixels and channels), with ``statistics``,
    ``ImageContext.statistics(x)`` of the whole input x (N, C, H, W), through a two-layer MLP to {'coarse': (scale,
    shift), 'head': (scale, shift)}, F channels each. It reads the input's statistics so that it can learn the gain
    from the input to the target. Its last layer starts at zero, so a generator given it starts out ignoring the
    target.
    """

    def __init__(self, num_in_ch, num_feat):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(1 + 2 * num_in_ch, 2 * num_feat), nn.LeakyReLU(0.2),
                                 nn.Linear(2 * num_feat, 4 * num_feat))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x, exposure, statistics):
        target = torch.log(torch.as_tensor(exposure, dtype=x.dtype, device=x.device).clamp(min=1e-6))
        target = target.reshape(-1, 1).expand(x.shape[0], 1)
        coarse_scale, coarse_shift, head_scale, head_shift = self.mlp(
            torch.cat([target, statistics], 1))[..., None, None].chunk(4, dim=1)
        return {'coarse': (1 + coarse_scale, coarse_shift), 'head': (1 + head_scale, head_shift)}


def whole_image_modulations(x, modules, exposure_condition=None, exposure=None):
    """The modulations of ``modules`` (those not None, in order) for the whole image x, then, given ``exposure``,
    ``exposure_condition``'s for it: one (scale, shift) per place. x's statistics are computed once for all."""
    if exposure is not None and exposure_condition is None:
        raise InputError('network_g: an exposure was given to a generator without exposure_condition')
    modules = [module for module in modules if module is not None]
    if not modules and exposure is None:
        return {}
    statistics = ImageContext.statistics(x)
    modulations = [module(x, statistics) for module in modules]
    if exposure is not None:
        modulations.append(exposure_condition(x, exposure, statistics))
    return combined_modulations(modulations)


def combined_modulations(modulations):
    """Several {place: (scale, shift)} (a list, in order) as one: two at one place are applied one after the other,
    (f * s1 + b1) * s2 + b2 = f * (s1 s2) + (b1 s2 + b2)."""
    combined = {}
    for modulation in modulations:
        for place, (scale, shift) in modulation.items():
            if place in combined:
                first_scale, first_shift = combined[place]
                scale, shift = first_scale * scale, first_shift * scale + shift
            combined[place] = scale, shift
    return combined


def modulate(features, modulations, place):
    """features (N, F, H, W) * scale + shift of ``modulations[place]``; features unchanged if it has none."""
    if place not in modulations:
        return features
    scale, shift = modulations[place]
    return features * scale + shift
