"""Turn a training checkpoint into release weights: the generator only, under 'params', and its options beside it.

    python scripts/model_conversion/export_weights.py experiments/MSIAGAN_LOLv1/models/net_g_latest.pth \\
        --out weights/my_model.pth

writes weights/my_model.pth ({'params': the checkpoint's params_ema, else params; --param-key chooses}) and
weights/my_model.yml (the experiment's options copy, with BasicSR's ``# CMD:`` header and so any
--force_yml changes, under a line naming the checkpoint). msiagan-enhance reads network_g from that .yml.
The weights are loaded into network_g before anything is written, so a mismatch stops here.
"""
import argparse
import os
from os import path as osp

from msiagan.inference import fit_generator, load_network_options
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.weights import add_param_key_argument, find_options, read_weights
from msiagan.utils.writing import atomic_save


def export(checkpoint, out, options=None, param_key=None):
    """Write ``out`` (.pth) and ``out`` with .yml; returns the number of generator parameters exported."""
    if not out.endswith('.pth'):
        raise InputError(f'--out {out}: must end with .pth (the options go beside it as .yml)')
    options = options or find_options(checkpoint)
    if osp.abspath(options) == osp.abspath(osp.splitext(out)[0] + '.yml'):
        raise InputError(f'{options}: is the options file this export would overwrite; give another -opt')
    key, state_dict = read_weights(checkpoint, param_key)
    net = fit_generator(load_network_options(options), state_dict, checkpoint)  # stops here if they do not fit
    with open(options) as f:
        options_text = f.read()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    atomic_save({'params': net.state_dict()}, out)
    with open(osp.splitext(out)[0] + '.yml', 'w') as f:
        f.write(f'# The options {osp.basename(out)} was trained with ({osp.relpath(options)}); its weights are '
                f'{f"{key} of " if key else ""}{checkpoint}.\n{options_text}')
    return sum(p.numel() for p in net.parameters())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint', help='net_g_*.pth saved by BasicSR (or any generator weights file)')
    parser.add_argument('--out', required=True, help='release weights file to write (.pth)')
    parser.add_argument('-opt', '--options', help="options file with network_g (default: the experiment's copy)")
    add_param_key_argument(parser, 'the checkpoint')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('export_weights.py', lambda: report(args))


def report(args):
    num_params = export(args.checkpoint, args.out, args.options, args.param_key)
    size_mb = osp.getsize(args.out) / 2**20
    print(f'{args.out}: {num_params:,} generator parameters, {size_mb:.2f} MB; options in '
          f'{osp.splitext(args.out)[0]}.yml')


if __name__ == '__main__':
    main()
