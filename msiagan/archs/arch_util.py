"""Small building blocks shared by the generators."""
from torch import nn
from torch.nn import functional as F

from msiagan.utils.errors import InputError

ACTIVATIONS = {
    'none': nn.Identity,
    'relu': nn.ReLU,
    'lrelu': lambda: nn.LeakyReLU(0.2),
    'gelu': nn.GELU,
}


def make_activation(name):
    """Return a new activation module for ``name`` (one of ``ACTIVATIONS``).

    None reads as 'none': BasicSR's --force_yml turns the value none into None.
    """
    name = 'none' if name is None else name
    if name not in ACTIVATIONS:
        raise InputError(f"network_g: act '{name}' is not one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def pad_to_multiple(x, multiple):
    """Pad (N, C, H, W) on the bottom and right so H and W are multiples of ``multiple``.

    Reflect padding where the image is large enough for it, replicate otherwise (reflect needs pad < size).
    Crop the result back with ``out[..., :H, :W]``.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = 'reflect' if pad_h < h and pad_w < w else 'replicate'
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
