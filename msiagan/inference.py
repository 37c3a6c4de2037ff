"""Loading a trained generator and running it on images."""
import pickle
from copy import deepcopy

import numpy as np
import torch
import yaml
from basicsr.archs import build_network

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
    except RuntimeError as error:
        raise InputError(f'{weights}: not a PyTorch weights file ({error})') from None
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
def enhance_array(net, img, device='cpu'):
    """Enhance one float32 (H, W, 3) RGB image in [0, 1]; returns float32 (H, W, 3) RGB in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device)
    out = net(x).clamp_(0, 1)
    return out[0].permute(1, 2, 0).cpu().numpy()
