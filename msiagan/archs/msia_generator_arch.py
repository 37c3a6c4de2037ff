"""MSIA generator: three interconnected autoencoders (Atif and Yan, 2024), as in the paper's figure.

This file is the paper's network; what we add to it (all off by default) lives beside it:
global_branch.py (``ImageContext``, ``GlobalBranch``: what the whole image sets) and coarse_blocks.py
(``DilatedResidualBlock``: a wider local reach at 1/8 scale).
"""
import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn import functional as F

from msiagan.utils.errors import InputError

from .arch_util import make_activation, pad_to_multiple
from .coarse_blocks import DilatedResidualBlock
from .global_branch import ExposureCondition, GlobalBranch, ImageContext, modulate, whole_image_modulations


def _stem(in_ch, out_ch, act):
    """3x3 conv, dilation 2, 'same' padding: full resolution."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=2, dilation=2), make_activation(act))


# resample -> pixels its blurs add to receptive_radius, measured by gradients with and without coarse blocks: 'blurred'
# has 12 blurs at scales 1 to 1/4 along the longest path (AE1's or AE2's downs and ups, then AE3's); 'blurred_ae3_up'
# the 3 after AE3's up steps (1 pixel at scales 1/4, 1/2 and 1)
BLUR_REACH = {'strided': 0, 'blurred': 30, 'blurred_ae3_up': 7}
RESAMPLES = tuple(BLUR_REACH)


def blur(x):
    """x (N, C, H, W) through the fixed [1, 2, 1] / 4 binomial filter in rows and columns (replicate padding): it
    removes what repeats every 2 pixels and halves what repeats every 4. One depthwise conv with zero padding (no
    padded copy of x), then what replicate padding adds on the border rows and columns."""
    channels = x.shape[1]
    taps = x.new_tensor([1.0, 2.0, 1.0]) / 4
    out = F.conv2d(x, (taps[:, None] * taps[None, :]).expand(channels, 1, 3, 3), padding=1, groups=channels)
    # blur = columns(rows(x)); a replicated border row adds a quarter of itself to rows(x), then columns blurs it;
    # a replicated border column of rows(x) adds a quarter of itself
    for row in (0, -1):
        out[..., row, :] += _blur_line(x[..., row, :], taps, 'replicate') / 4
    for column in (0, -1):
        out[..., column] += _blur_line(x[..., column], taps, 'constant') / 4
    return out


def _blur_line(lines, taps, mode):
    """lines (N, C, L) through taps (3,) along L, padded with ``mode`` ('replicate' or 'constant')."""
    padded = F.pad(lines, (1, 1), mode=mode)
    return taps[0] * padded[..., :-2] + taps[1] * padded[..., 1:-1] + taps[2] * padded[..., 2:]


class _ScaleStep(nn.Sequential):
    """A 2x2 stride-2 conv (down) or transposed conv (up) and its activation, ``self[0]`` and ``self[1]`` (the
    paper's layers, so their weights load either way); ``blurred``: ``blur`` before a down step's conv (anti-aliased
    downsampling) and after an up step's transposed conv, so that no output pixel of a 2x2 block has weights of its
    own."""

    def __init__(self, conv, act, blurred):
        super().__init__(conv, make_activation(act))
        self.blurred = blurred

    def forward(self, x):
        if not self.blurred:
            return super().forward(x)
        down = isinstance(self[0], nn.Conv2d)
        x = self[0](blur(x) if down else x)
        return self[1](x if down else blur(x))


def _down(in_ch, out_ch, act, blurred=False):
    """2x2 conv, stride 2: halves H and W."""
    return _ScaleStep(nn.Conv2d(in_ch, out_ch, 2, stride=2), act, blurred)


def _up(in_ch, out_ch, act, blurred=False):
    """2x2 transposed conv, stride 2: doubles H and W."""
    return _ScaleStep(nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2), act, blurred)


class _Bottleneck(nn.Module):
    """2x2 conv, stride 1, 'same' as in Keras: the extra pixel of zero padding goes bottom/right."""

    def __init__(self, num_feat, act):
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat, 2)
        self.act = make_activation(act)

    def forward(self, x):
        return self.act(self.conv(F.pad(x, (0, 1, 0, 1))))


class SideAutoencoder(nn.Module):
    """AE1 / AE2: a 3-level U-shaped autoencoder whose features feed AE3.

    ``forward`` maps x (N, C, H, W) to (encoder, decoder) feature lists, each of three (N, F, ., .) tensors:
    encoder at 1/2, 1/4, 1/8 of H and W; decoder at 1/4, 1/2, 1 of H and W.
    """

    def __init__(self, num_in_ch, num_feat, act, blurred=False):
        super().__init__()
        self.stem = _stem(num_in_ch, num_feat, act)
        self.down = nn.ModuleList([_down(num_feat, num_feat, act, blurred) for _ in range(3)])
        self.bottleneck = _Bottleneck(num_feat, act)
        self.up = nn.ModuleList([_up(2 * num_feat, num_feat, act, blurred) for _ in range(3)])

    def forward(self, x):
        feat = self.stem(x)
        encoder = []
        for down in self.down:
            feat = down(feat)
            encoder.append(feat)
        feat = self.bottleneck(feat)
        decoder = []
        for up, skip in zip(self.up, reversed(encoder)):
            feat = up(torch.cat([feat, skip], 1))
            decoder.append(feat)
        return encoder, decoder


@ARCH_REGISTRY.register()
class MSIAGenerator(nn.Module):
    """Generator of MSIA-GAN: AE1 and AE2 feed AE3 crosswise.

    AE3's encoder takes the decoders of AE1 and AE2 (finest first) and its decoder takes their encoders
    (coarsest first), as in the paper's released code; a 3x3 conv + LeakyReLU(0.3) head and a 1x1 conv
    give the output (no output activation). Any H and W: the input is padded to a multiple of 8 (reflect)
    and the output cropped back, so it has the input's size.

    Args:
        num_in_ch (int): Input channels. Default: 3.
        num_out_ch (int): Output channels. Default: 3.
        num_feat (int): Channels of every feature map. Default: 64 (paper).
        act (str): Activation after every conv before the head.
            'none' reproduces the released code: everything before the head is linear. 'lrelu' (slope 0.2),
            'gelu' or 'relu' is our improved, non-linear variant with the same parameters and cost.
        global_context (bool): Scale and shift the head's input by an ``ImageContext`` of the whole input
            (our addition: a small MLP on image statistics, no convs). Default: False (paper).
        global_branch (bool): Scale and shift AE3's 1/8-scale features and the head's input by a
            ``GlobalBranch``, a small CNN over the whole input (our addition): every output pixel then depends on
            every input pixel. Default: False (paper).
        coarse_blocks (int): ``DilatedResidualBlock``s, dilations 1, 2, 4, ..., on AE3's 1/8-scale features
            between its encoder and decoder (our addition). Each lets an output pixel see 8 * dilation
            pixels further on every side. Default: 0 (paper).
        resample (str): How scale changes. 'strided' (paper): 2x2 stride-2 convs down, 2x2 stride-2 transposed convs
            up, so each pixel of a 2x2 output block is made by its own weights, which can leave a pattern repeating
            every 2, 4 and 8 pixels. 'blurred' (our addition): the same layers and weights, with ``blur`` before
            each down step and after each up step; no parameters added. 'blurred_ae3_up' (our addition): ``blur``
            after AE3's three up steps only, the ones that build what the head reads: enough for flat areas (a
            flat input gives flat maps to every other step, and a stride-2 conv reads a 2-pixel pattern in its
            input as flat), at about an eighth of 'blurred''s blur traffic. Default: 'strided'.
        exposure_condition (bool): Also take, on purpose, the exposure the output should have (``forward``'s
            ``exposure``): an ``ExposureCondition`` scales and shifts AE3's 1/8-scale features and the head's input
            from it (our addition). Without an exposure, the generator chooses its own. Default: False (paper).
        (Parameters and GMAC of each setting, and the tests that check them: docs/differences.md.)

    Attributes:
        receptive_radius (int): The local reach: apart from ``global_features``, no output pixel depends on an
            input pixel further away than this, in rows or columns: 18, plus 8 * (2**coarse_blocks - 1), plus
            BLUR_REACH[resample]. Tiles with this much context, given the whole image's ``global_features``, give the
            whole image's result.
            (Without coarse blocks an output pixel sees a window of 20 to 28 pixels, depending on its position
            in the 8-pixel grid, reaching up to 10 pixels one way and 18 the other.)
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, act='none', global_context=False, coarse_blocks=0,
                 global_branch=False, resample='strided', exposure_condition=False):
        super().__init__()
        if resample not in RESAMPLES:
            raise InputError(f"network_g: resample '{resample}' is not one of {list(RESAMPLES)}")
        blurred = resample == 'blurred'
        self.resample = resample
        self.ae1 = SideAutoencoder(num_in_ch, num_feat, act, blurred)
        self.ae2 = SideAutoencoder(num_in_ch, num_feat, act, blurred)
        self.stem = _stem(num_in_ch, num_feat, act)
        self.down = nn.ModuleList([_down(3 * num_feat, num_feat, act, blurred) for _ in range(3)])
        self.up = nn.ModuleList([_up(3 * num_feat, num_feat, act, resample != 'strided') for _ in range(3)])
        self.head = nn.Sequential(nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.LeakyReLU(0.3))
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 1)
        self.context = ImageContext(num_in_ch, num_feat) if global_context else None
        self.global_branch = GlobalBranch(num_in_ch, num_feat) if global_branch else None
        self.exposure_condition = ExposureCondition(num_in_ch, num_feat) if exposure_condition else None
        self.coarse = nn.Sequential(*[DilatedResidualBlock(num_feat, 2**i, act) for i in range(coarse_blocks)])
        self.receptive_radius = 18 + 8 * (2**coarse_blocks - 1) + BLUR_REACH[resample]

    def global_features(self, x, exposure=None):
        """What the whole image x (N, num_in_ch, H, W) sets: {place: (scale, shift)}, (N, num_feat, 1, 1) each, of
        ``global_context`` and ``global_branch`` (see msiagan.archs.global_branch), and, given ``exposure`` (N,) or
        a number (the output's target linear mean), of ``exposure_condition``; empty without them."""
        return whole_image_modulations(x, [self.context, self.global_branch], self.exposure_condition, exposure)

    def forward(self, x, global_features=None, exposure=None):
        """x: (N, num_in_ch, H, W), [0, 1] -> (N, num_out_ch, H, W).

        global_features: ``global_features`` of the whole image when x is a tile of it (default: of x).
        exposure: the output's target linear mean, (N,) or a number (``exposure_condition``); default: the
            generator's own choice. With ``global_features``, give it to ``global_features`` instead.
        """
        height, width = x.shape[-2:]
        if global_features is None:
            global_features = self.global_features(x, exposure)
        elif exposure is not None:
            raise InputError('MSIAGenerator: give the exposure to global_features, not beside its result')
        x = pad_to_multiple(x, 8)
        enc1, dec1 = self.ae1(x)
        enc2, dec2 = self.ae2(x)
        feat = self.stem(x)
        # encoder of AE3: decoders of AE1/AE2 from full resolution down to 1/4
        for down, skip1, skip2 in zip(self.down, reversed(dec1), reversed(dec2)):
            feat = down(torch.cat([feat, skip1, skip2], 1))
        feat = self.coarse(modulate(feat, global_features, 'coarse'))
        # decoder of AE3: encoders of AE1/AE2 from 1/8 up to 1/2
        for up, skip1, skip2 in zip(self.up, reversed(enc1), reversed(enc2)):
            feat = up(torch.cat([feat, skip1, skip2], 1))
        out = self.conv_last(self.head(modulate(feat, global_features, 'head')))
        return out[..., :height, :width]
