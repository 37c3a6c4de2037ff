"""pix2pix U-Net generator, the baseline the paper's GAN framework comes from."""
import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from .arch_util import pad_to_multiple


@ARCH_REGISTRY.register()
class UNetGenerator(nn.Module):
    """pix2pix U-Net (Isola et al., 2017): 4x4 stride-2 convs down to 1/2^num_down, mirrored transposed
    convs up, a skip connection at every level, BatchNorm, dropout in the num_down - 5 decoder levels next to
    the innermost (those with 8x num_feat channels on both sides; three for unet_256).

    Channels: num_feat, 2x, 4x, then 8x num_feat for the remaining levels. No output activation (our data is
    in [0, 1]; inference clamps). Any H and W: reflect-padded to a multiple of 2^num_down, cropped back.

    Args:
        num_in_ch (int): Default: 3.
        num_out_ch (int): Default: 3.
        num_feat (int): Channels of the first level. Default: 64.
        num_down (int): Down-sampling levels; 8 is pix2pix's unet_256. Default: 8.
        dropout (float): Dropout probability in those decoder levels. Default: 0.5.
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_down=8, dropout=0.5):
        super().__init__()
        channels = [num_feat * min(2**level, 8) for level in range(num_down)]
        self.down = nn.ModuleList([nn.Conv2d(num_in_ch, channels[0], 4, stride=2, padding=1)])
        for level in range(1, num_down):
            innermost = level == num_down - 1
            self.down.append(
                nn.Sequential(
                    nn.LeakyReLU(0.2), nn.Conv2d(channels[level - 1], channels[level], 4, stride=2, padding=1),
                    nn.Identity() if innermost else nn.BatchNorm2d(channels[level])))
        self.up = nn.ModuleList()
        for level in reversed(range(1, num_down)):
            in_ch = channels[level] * (1 if level == num_down - 1 else 2)
            deep = 4 <= level < num_down - 1  # pix2pix: the num_down - 5 blocks of 8x channels below the innermost
            self.up.append(
                nn.Sequential(
                    nn.ReLU(), nn.ConvTranspose2d(in_ch, channels[level - 1], 4, stride=2, padding=1),
                    nn.BatchNorm2d(channels[level - 1]),
                    nn.Dropout(dropout) if deep else nn.Identity()))
        self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * channels[0], num_out_ch, 4, stride=2,
                                                                   padding=1)))
        self.multiple = 2**num_down

    def forward(self, x):
        """x: (N, num_in_ch, H, W) -> (N, num_out_ch, H, W)."""
        height, width = x.shape[-2:]
        feat = pad_to_multiple(x, self.multiple)
        skips = []
        for down in self.down:
            feat = down(feat)
            skips.append(feat)
        skips.pop()  # the innermost output is the decoder's input, not a skip
        for up in self.up:
            feat = up(feat)
            if skips:
                feat = torch.cat([feat, skips.pop()], 1)
        return feat[..., :height, :width]
