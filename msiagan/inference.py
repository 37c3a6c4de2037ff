"""Loading a trained generator and running it on images."""
import pickle
from copy import deepcopy

import numpy as np
import torch
import yaml
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

from msiagan.errors import InputError


def load_network_options(options_file):
    """The ``network_g`` block of a BasicSR options file (also the copy in an experiment folder)."""
    try:
        with open(options_file) as f:
            options = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f'{options_file}: cannot read options ({error})') from None
    if not isinstance(options, dict) or 'network_g' not in options:
        raise InputError(f'{options_file}: has no network_g')
    return options['network_g']


def network_options_from(spec):
    """``network_g`` options from an options file (.yml/.yaml) or a registered arch name (its defaults)."""
    if spec.endswith(('.yml', '.yaml')):
        return load_network_options(spec)
    if spec in ARCH_REGISTRY:
        return {'type': spec}
    raise InputError(f"'{spec}' is neither an options file (.yml) nor a registered network name")


def load_state_dict(weights, param_key=None):
    """Generator weights from a BasicSR checkpoint ('params_ema' if present, else 'params') or a bare state dict.

    Loaded with ``weights_only=True``: a file that would run code when unpickled is refused.
    """
    try:
        checkpoint = torch.load(weights, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise InputError(f'{weights}: weights file does not exist') from None
    except pickle.UnpicklingError:
        raise InputError(f'{weights}: refused, loading it would run code (not a plain weights file)') from None
    except (RuntimeError, EOFError, ValueError) as error:
        raise InputError(f'{weights}: not a PyTorch weights file ({type(error).__name__}: {error})') from None
    if param_key is not None:
        if param_key not in checkpoint:
            raise InputError(f"{weights}: has no '{param_key}' (keys: {sorted(checkpoint)})")
        return checkpoint[param_key]
    for key in ('params_ema', 'params'):
        if key in checkpoint:
            return checkpoint[key]
    return checkpoint


def load_generator(network_opt, weights, param_key=None, device='cpu'):
    """Build the generator described by ``network_opt`` and load ``weights``; eval mode on ``device``."""
    net = build_network(deepcopy(network_opt))
    try:
        net.load_state_dict(load_state_dict(weights, param_key))
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise InputError(f'{weights}: does not fit network_g {network_opt["type"]} ({first_line})') from None
    return net.eval().to(device)


@torch.no_grad()
def enhance_tensor(net, x, tile=0, tile_pad=32, align=8):
    """Run ``net`` on x (N, C, H, W) in [0, 1]; returns (N, C_out, H, W) clamped to [0, 1].

    tile > 0 processes tile x tile pieces, each with up to ``tile_pad`` pixels of context on every side,
    so an image larger than memory allows still goes through. Each piece starts on a multiple of
    ``align`` (the generator's total stride), so it sees the same sampling grid as the whole image.
    """
    if not tile:
        return net(x).clamp_(0, 1)
    height, width = x.shape[-2:]
    out = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            context_top = max(top - tile_pad, 0) // align * align
            context_left = max(left - tile_pad, 0) // align * align
            piece = net(x[..., context_top:min(bottom + tile_pad, height), context_left:min(right + tile_pad, width)])
            if out is None:
                out = x.new_empty(x.shape[0], piece.shape[1], height, width)
            out[..., top:bottom, left:right] = piece[..., top - context_top:bottom - context_top,
                                                     left - context_left:right - context_left]
    return out.clamp_(0, 1)


def enhance_array(net, img, device='cpu', tile=0, tile_pad=32):
    """Enhance one float32 (H, W, 3) RGB image in [0, 1]; returns float32 (H, W, 3) RGB in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device)
    return enhance_tensor(net, x, tile, tile_pad)[0].permute(1, 2, 0).cpu().numpy()
