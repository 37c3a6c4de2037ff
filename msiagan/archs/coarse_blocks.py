"""What the MSIA generator can add between AE3's encoder and decoder (our addition): a wider local reach."""
from torch import nn

from .arch_util import make_activation


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
