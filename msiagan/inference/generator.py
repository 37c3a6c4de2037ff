"""Building a generator from its options and loading its trained weights."""
from copy import deepcopy

from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

from msiagan.utils.errors import InputError
from msiagan.utils.options_check import force_option
from msiagan.basicsr_patches.options_file import parse_options_text, read_options_text
from msiagan.utils.weights import load_state_dict


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


def network_options_from(spec):
    """``network_g`` options from an options file (.yml/.yaml) or a registered arch name (its defaults)."""
    if spec.endswith(('.yml', '.yaml')):
        return load_network_options(spec)
    if spec in ARCH_REGISTRY:
        return {'type': spec}
    raise InputError(f"'{spec}' is neither an options file (.yml) nor a registered network name")


def load_generator(network_opt, weights, param_key=None, device='cpu'):
    """Build the generator described by ``network_opt`` and load ``weights``; eval mode on ``device``."""
    return fit_generator(network_opt, load_state_dict(weights, param_key), weights).to(device)


def fit_generator(network_opt, state_dict, weights):
    """The generator described by ``network_opt`` with ``state_dict`` (read from the file ``weights``), eval mode."""
    try:
        net = build_network(deepcopy(network_opt))
    except Exception as error:  # whatever its constructor raises: a bad argument, or defaults that do not fit
        first_line = (str(error).splitlines() or [''])[0]
        raise InputError(f'network_g {dict(network_opt)}: cannot be built ({type(error).__name__}: {first_line})'
                         ) from None
    try:
        net.load_state_dict(state_dict)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise InputError(f'{weights}: does not fit network_g {network_opt["type"]} ({first_line})') from None
    return net.eval()


def has_global_parts(net):
    """Whether ``net``'s output depends on features of the whole image other than an exposure asked for
    (``global_features`` with global_context or global_branch): an MSIAGenerator with either, its fast version, or
    an ONNX export of one (its ``global_parts``)."""
    if hasattr(net, 'global_parts'):
        return net.global_parts
    return getattr(net, 'context', None) is not None or getattr(net, 'global_branch', None) is not None
