"""MSIA generator: three interconnected autoencoders (Atif and Yan, 2024)."""
import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn import functional as F

from .arch_util import make_activation, pad_to_multiple


def _stem(in_ch, out_ch, act):
    """3x3 conv, dilation 2, 'same' padding: full resolution."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=2, dilation=2), make_activation(act))


def _down(in_ch, out_ch, act):
    """2x2 conv, stride 2: halves H and W."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 2, stride=2), make_activation(act))


def _up(in_ch, out_ch, act):
    """2x2 transposed conv, stride 2: doubles H and W."""
    return nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2), make_activation(act))


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

    def __init__(self, num_in_ch, num_feat, act):
        super().__init__()
        self.stem = _stem(num_in_ch, num_feat, act)
        self.down = nn.ModuleList([_down(num_feat, num_feat, act) for _ in range(3)])
        self.bottleneck = _Bottleneck(num_feat, act)
        self.up = nn.ModuleList([_up(2 * num_feat, num_feat, act) for _ in range(3)])

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


class DilatedResidualBlock(nn.Module):
    """x + conv1x1(act(conv3x3 at ``dilation``(x))) on (N, F, H, W), same shape out.

    The 1x1 conv starts at zero, so the block starts as the identity: weights trained without it load and
    start out unchanged.
    """

    def __init__(self, num_feat, dilation, act):
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat, 3, padding=dilation, dilation=dilation)
        self.act = make_activation(act)
        self.proj = nn.Conv2d(num_feat, num_feat, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        return x + self.proj(self.act(self.conv(x)))


class ImageContext(nn.Module):
    """What a receptive field of 20 to 28 pixels cannot see: the exposure of the whole image.

    ``statistics(x)`` reduces x (N, C, H, W) in [0, 1] to (N, 2C): the log of each channel's mean and standard
    deviation over H and W. ``forward(x, statistics=None)`` maps them (those given, else x's) through a small
    MLP to a per-channel scale and shift of F feature maps, (N, F, 1, 1) each. The last layer starts at zero:
    a generator with it starts out computing exactly what it computes without it, so trained weights without
    it load and fine-tune.
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

    def forward(self, x, statistics=None):
        if statistics is None:
            statistics = self.statistics(x)
        scale, shift = self.mlp(statistics)[..., None, None].chunk(2, dim=1)
        return 1 + scale, shift


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
            'none' reproduces the released code: everything before the head is linear (666,371 parameters
            with the defaults). 'lrelu' (slope 0.2), 'gelu' or 'relu' is our improved, non-linear variant
            with the same parameters and cost.
        global_context (bool): Scale and shift the head's input by an ``ImageContext`` of the whole input
            (our addition; 8,768 more parameters with the defaults, no convs). Default: False (paper).
        coarse_blocks (int): ``DilatedResidualBlock``s, dilations 1, 2, 4, ..., on AE3's 1/8-scale features
            between its encoder and decoder (our addition). Each lets an output pixel see 8 * dilation
            pixels further on every side: 120 more with 4 (41,088 more parameters and 0.042 GMAC at
            256x256 each, with the defaults). Default: 0 (paper).

    Attributes:
        receptive_radius (int): No output pixel depends on an input pixel further away than this, in rows or
            columns: 18, plus 8 * (2**coarse_blocks - 1). Tiles with this much context give the whole image's
            result. (Without coarse blocks an output pixel sees a window of 20 to 28 pixels, depending on its
            position in the 8-pixel grid, reaching up to 10 pixels one way and 18 the other.)
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, act='none', global_context=False, coarse_blocks=0):
        super().__init__()
        self.ae1 = SideAutoencoder(num_in_ch, num_feat, act)
        self.ae2 = SideAutoencoder(num_in_ch, num_feat, act)
        self.stem = _stem(num_in_ch, num_feat, act)
        self.down = nn.ModuleList([_down(3 * num_feat, num_feat, act) for _ in range(3)])
        self.up = nn.ModuleList([_up(3 * num_feat, num_feat, act) for _ in range(3)])
        self.head = nn.Sequential(nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.LeakyReLU(0.3))
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 1)
        self.context = ImageContext(num_in_ch, num_feat) if global_context else None
        self.coarse = nn.Sequential(*[DilatedResidualBlock(num_feat, 2**i, act) for i in range(coarse_blocks)])
        self.receptive_radius = 18 + 8 * (2**coarse_blocks - 1)

    def forward(self, x, statistics=None):
        """x: (N, num_in_ch, H, W), [0, 1] -> (N, num_out_ch, H, W).

        statistics: ``ImageContext.statistics`` of the whole image when x is a tile of it (default: of x).
        """
        height, width = x.shape[-2:]
        if self.context is not None:
            scale, shift = self.context(x, statistics)
        x = pad_to_multiple(x, 8)
        enc1, dec1 = self.ae1(x)
        enc2, dec2 = self.ae2(x)
        feat = self.stem(x)
        # encoder of AE3: decoders of AE1/AE2 from full resolution down to 1/4
        for down, skip1, skip2 in zip(self.down, reversed(dec1), reversed(dec2)):
            feat = down(torch.cat([feat, skip1, skip2], 1))
        feat = self.coarse(feat)
        # decoder of AE3: encoders of AE1/AE2 from 1/8 up to 1/2
        for up, skip1, skip2 in zip(self.up, reversed(enc1), reversed(enc2)):
            feat = up(torch.cat([feat, skip1, skip2], 1))
        if self.context is not None:
            feat = feat * scale + shift
        out = self.conv_last(self.head(feat))
        return out[..., :height, :width]
