"""Conditional PatchGAN discriminator (pix2pix)."""
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn


@ARCH_REGISTRY.register()
class PatchGANDiscriminator(nn.Module):
    """pix2pix PatchGAN as in the paper's code: 4x4 stride-2 convs, then a 4x4 stride-1 conv to one channel.

    With the defaults: 64-128-256-512 channels, BatchNorm from the second conv on, LeakyReLU(0.2),
    2,769,601 trainable parameters. The output is a map of logits (no sigmoid; pair it with BasicSR's
    GANLoss 'vanilla', which is BCE-with-logits), of size H/16 - 1 by W/16 - 1.

    Args:
        num_in_ch (int): Input channels: 6 for cat[low-light input, real or enhanced image]. Default: 6.
        num_feat (int): Channels of the first conv; each later stride-2 conv doubles them. Default: 64.
        num_down (int): Number of 4x4 stride-2 convs. Default: 4.
        init_std (float): Std of the normal(0, std) initialisation of the conv weights (biases 0, BatchNorm
            weight 1 and bias 0). 0.02 as pix2pix; the released code uses 0.2. Default: 0.02.
    """

    def __init__(self, num_in_ch=6, num_feat=64, num_down=4, init_std=0.02):
        super().__init__()
        layers = [nn.Conv2d(num_in_ch, num_feat, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels = num_feat
        for _ in range(num_down - 1):
            layers += [
                nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),
                nn.BatchNorm2d(2 * channels),
                nn.LeakyReLU(0.2)
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.body = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, init_std)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        """x: (N, num_in_ch, H, W) -> logits (N, 1, H/2^num_down - 1, W/2^num_down - 1)."""
        return self.body(x)
