"""Small building blocks shared by the generators."""
import torch
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
    Crop the result back with ``out[..., :H, :W]``. While torch.export traces it (ONNX export), the same padding
    is built from index tensors, so that the traced graph pads every H and W, not only the traced input's.
    """
    if torch.compiler.is_exporting():
        return _pad_by_indices(x, multiple)
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = 'reflect' if pad_h < h and pad_w < w else 'replicate'
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def _pad_by_indices(x, multiple):
    """``pad_to_multiple`` as two gathers whose sizes and mode follow H and W in the graph, not as traced."""
    (rows_reflect, rows_replicate), (cols_reflect, cols_replicate) = (
        _padded_indices(size, multiple, x.device) for size in x.shape[-2:])
    reflect = (rows_reflect.min() >= 0) & (cols_reflect.min() >= 0)  # pad < size on both axes
    rows = torch.where(reflect, rows_reflect, rows_replicate)
    cols = torch.where(reflect, cols_reflect, cols_replicate)
    return x.index_select(-2, rows).index_select(-1, cols)


def _padded_indices(size, multiple, device):
    """(reflect, replicate): the source index of each of the ``size`` rounded up to ``multiple`` positions (int64);
    reflect's are negative where the padding exceeds size - 1."""
    index = torch.arange((size + multiple - 1) // multiple * multiple, device=device)
    return torch.where(index < size, index, 2 * (size - 1) - index), torch.clamp(index, max=size - 1)
