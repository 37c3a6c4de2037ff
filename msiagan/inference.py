"""Loading a trained generator and running it on images."""
import glob
import pickle
from copy import deepcopy
from functools import partial
from os import path as osp

import cv2
import numpy as np
import torch
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

from msiagan.errors import InputError
from msiagan.options_check import force_option
from msiagan.options_file import parse_options_text, read_options_text


def recorded_overrides(text):
    """The ``--force_yml`` entries of the ``# CMD:`` line that BasicSR writes atop an experiment's options copy."""
    lines = text.splitlines()
    if '# CMD:' not in lines or lines.index('# CMD:') + 1 == len(lines):
        return []
    words = lines[lines.index('# CMD:') + 1].lstrip('# ').split()
    if '--force_yml' not in words:
        return []
    entries = words[words.index('--force_yml') + 1:]
    return entries[:next((i for i, word in enumerate(entries) if word.startswith('-')), len(entries))]


def load_network_options(options_file):
    """The ``network_g`` block of a BasicSR options file.

    In the copy BasicSR keeps in an experiment folder, ``network_g`` has the original values: the
    ``--force_yml`` changes to it that the copy's ``# CMD:`` header records are applied here.
    """
    text = read_options_text(options_file)
    options = parse_options_text(text, options_file)
    if 'network_g' not in options:
        raise InputError(f'{options_file}: has no network_g')
    for entry in recorded_overrides(text):
        if entry.startswith('network_g:'):
            force_option(options, entry)
    return options['network_g']


def find_options(weights):
    """The options file that describes ``weights``: <stem>.yml beside it, or the experiment's own copy."""
    beside = osp.splitext(weights)[0] + '.yml'
    if osp.isfile(beside):
        return beside
    experiment = osp.dirname(osp.dirname(osp.abspath(weights)))
    if osp.basename(osp.dirname(osp.abspath(weights))) == 'models':
        copies = sorted(glob.glob(osp.join(experiment, '*.yml')))
        if len(copies) == 1:
            return copies[0]
    raise InputError(f'{weights}: no options file found beside it or in its experiment folder; give -opt')


def network_options_from(spec):
    """``network_g`` options from an options file (.yml/.yaml) or a registered arch name (its defaults)."""
    if spec.endswith(('.yml', '.yaml')):
        return load_network_options(spec)
    if spec in ARCH_REGISTRY:
        return {'type': spec}
    raise InputError(f"'{spec}' is neither an options file (.yml) nor a registered network name")


LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, KeyError)  # of torch.load on a bad file


def unreadable_weights(weights, error):
    """The one-line InputError for ``torch.load(weights, weights_only=True)`` having raised ``error``."""
    if isinstance(error, pickle.UnpicklingError):
        if 'GLOBAL' in str(error):  # the safe unpickler met a reference to code (a class or a function)
            return InputError(f'{weights}: refused, loading it would run code (not a plain weights file)')
        return InputError(f'{weights}: not a PyTorch weights file (it cannot be unpickled)')
    first_line = (str(error).splitlines() or [''])[0]
    return InputError(f'{weights}: not a PyTorch weights file ({type(error).__name__}: {first_line})')


def read_weights(weights, param_key=None):
    """(key, generator state dict) from a BasicSR checkpoint or a bare state dict (key None).

    Without ``param_key``: 'params_ema' if present, else 'params', else the file is the state dict itself.
    Loaded with ``weights_only=True``: a file that would run code when unpickled is refused.
    """
    try:
        checkpoint = torch.load(weights, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise InputError(f'{weights}: weights file does not exist') from None
    except LOAD_ERRORS as error:
        raise unreadable_weights(weights, error) from None
    if param_key is not None:
        if param_key not in checkpoint:
            keys = sorted(checkpoint)
            raise InputError(f"{weights}: has no '{param_key}' (keys: {', '.join(keys[:4])}"
                             f"{', ...' if len(keys) > 4 else ''})")
        return param_key, checkpoint[param_key]
    for key in ('params_ema', 'params'):
        if key in checkpoint:
            return key, checkpoint[key]
    return None, checkpoint


def load_state_dict(weights, param_key=None):
    """The generator state dict of ``read_weights``."""
    return read_weights(weights, param_key)[1]


def load_generator(network_opt, weights, param_key=None, device='cpu'):
    """Build the generator described by ``network_opt`` and load ``weights``; eval mode on ``device``."""
    return fit_generator(network_opt, load_state_dict(weights, param_key), weights).to(device)


def fit_generator(network_opt, state_dict, weights):
    """The generator described by ``network_opt`` with ``state_dict`` (read from the file ``weights``), eval mode."""
    try:
        net = build_network(deepcopy(network_opt))
    except (KeyError, TypeError) as error:
        raise InputError(f'network_g {dict(network_opt)}: cannot be built ({error})') from None
    try:
        net.load_state_dict(state_dict)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise InputError(f'{weights}: does not fit network_g {network_opt["type"]} ({first_line})') from None
    return net.eval()


DEFAULT_TILE_PAD = 32  # pixels of context around a tile, for networks that do not give their receptive_radius


def tile_context(net, tile_pad=None):
    """Pixels of context around each tile: ``tile_pad``, else the net's ``receptive_radius`` (with which tiles give
    the whole image's result), else DEFAULT_TILE_PAD."""
    return tile_pad if tile_pad is not None else getattr(net, 'receptive_radius', DEFAULT_TILE_PAD)


@torch.no_grad()
def enhance_tensor(net, x, tile=0, tile_pad=None, align=8):
    """Run ``net`` on x (N, C, H, W) in [0, 1]; returns (N, C_out, H, W) clamped to [0, 1].

    tile > 0 processes tile x tile pieces, each with at least ``tile_pad`` pixels of context on every side
    where the image has them, so an image larger than memory allows still goes through. Each piece starts
    and, unless the image ends first, ends on a multiple of ``align`` (the generator's total stride), so it
    sees the same sampling grid as the whole image and is padded only where the image is; a generator with
    ``global_features`` gets those of the whole image. tile_pad None: the net's ``receptive_radius`` (tiles then
    give the whole image's result), or DEFAULT_TILE_PAD if it has none (``tile_context``).
    """
    if tile < 0 or (tile_pad or 0) < 0:
        raise InputError(f'tile {tile}, tile_pad {tile_pad}: take 0 or more pixels')
    if not tile:
        return net(x).clamp_(0, 1)
    tile_pad = tile_context(net, tile_pad)
    global_features = getattr(net, 'global_features', None)
    run = net if global_features is None else partial(net, global_features=global_features(x))  # the whole image's
    height, width = x.shape[-2:]
    out = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            context_top = max(top - tile_pad, 0) // align * align
            context_left = max(left - tile_pad, 0) // align * align
            context_bottom = min(-(-(bottom + tile_pad) // align) * align, height)  # padded only at the image's edge
            context_right = min(-(-(right + tile_pad) // align) * align, width)
            piece = run(x[..., context_top:context_bottom, context_left:context_right])
            if out is None:
                out = x.new_empty(x.shape[0], piece.shape[1], height, width)
            out[..., top:bottom, left:right] = piece[..., top - context_top:bottom - context_top,
                                                     left - context_left:right - context_left]
    return out.clamp_(0, 1)


def enhance_bgr_uint8(net, img, device='cpu'):
    """Enhance one uint8 (H, W, 3) BGR image; returns uint8 (H, W, 3) BGR (rounded, as BasicSR's tensor2img)."""
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None].to(device)
    out = enhance_tensor(net, x)[0].permute(1, 2, 0).cpu().numpy()
    return cv2.cvtColor(np.round(out * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
