"""Reading a trained generator's weights file and finding the options file that describes it."""
import glob
import pickle
from os import path as osp

import torch

from msiagan.utils.errors import InputError

# The LOL-v1 generator shipped inside the package, beside its options (msiagan_lol_v1.yml)
SHIPPED_WEIGHTS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'weights', 'msiagan_lol_v1.pth')


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


def add_param_key_argument(parser, of='a BasicSR checkpoint'):
    """Add --param-key to an argparse ``parser``: which weights of ``of`` read_weights takes."""
    parser.add_argument('--param-key', choices=['params', 'params_ema'],
                        help=f'which weights of {of} (default: params_ema if present)')


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
