"""Average the generator weights of several checkpoints (uniform weight averaging of one run, as in SWA; or, with
--weights, a weighted mean such as an interpolation between two fine-tunings of one model, as in WiSE-FT).

    python scripts/model_conversion/average_checkpoints.py experiments/MSIAGAN_LOLv1_recommended_restart2/models/net_g_{5000..11000..500}.pth \\
        --out experiments/MSIAGAN_LOLv1_recommended_restart2/models/net_g_average.pth
    python scripts/model_conversion/average_checkpoints.py msiagan/weights/msiagan_lol_v1.pth \\
        experiments/MSIAGAN_LOLv1_exposure_p02/models/net_g_5000.pth --weights 0.5 0.5 --out interpolated.pth

writes {'params': the mean of each checkpoint's params_ema, else params (--param-key chooses)}, a checkpoint that
scripts/metrics/compare.py, msiagan/test.py and scripts/model_conversion/export_weights.py read like any other. Floating-point tensors are
averaged in float64 and stored in their own dtype; integer ones (counters) must agree. --weights, one non-negative
number a checkpoint, are divided by their sum. The checkpoints must hold
the same tensors with the same shapes; the first that does not is named. --frozen-extras lets some checkpoints hold
tensors that others lack, a part added to one model and frozen in the runs from it (the shipped weights' exposure
condition: a mean of them with checkpoints from before stage 7); those are copied from the checkpoints that hold
them, which must hold the same values. Choose the average, as any checkpoint, on the val split.
"""
import argparse
import os
from os import path as osp

import torch

from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.weights import add_param_key_argument, read_weights
from msiagan.utils.writing import atomic_save


def average_state_dicts(named_state_dicts, weights=None, frozen_extras=False):
    """The mean of [(file name, state dict), ...], uniform or weighted by ``weights`` (one a state dict, summing to 1);
    a file whose tensors differ from the first's is named. frozen_extras: tensors that only some state dicts hold are
    copied from those (``frozen_extra_tensors``), the rest averaged over all."""
    count = len(named_state_dicts)
    weights = [1 / count] * count if weights is None else weights
    extras = frozen_extra_tensors(named_state_dicts) if frozen_extras else {}
    named_state_dicts = [(name, {key: tensor for key, tensor in state_dict.items() if key not in extras})
                         for name, state_dict in named_state_dicts]
    (first_name, first), rest = named_state_dicts[0], named_state_dicts[1:]
    # a new tensor even for float64 ones, which .double() would return as they are: the sums must not alias the input
    sums = {key: tensor.double() * weights[0] if tensor.is_floating_point() else tensor
            for key, tensor in first.items()}
    for (name, state_dict), weight in zip(rest, weights[1:]):
        if state_dict.keys() != first.keys():
            differing = sorted(state_dict.keys() ^ first.keys())
            raise InputError(f'{name}: its tensors differ from those of {first_name} (e.g. {differing[0]}; a part that '
                             'only some hold, the same in each: --frozen-extras)')
        for key, tensor in state_dict.items():
            if tensor.shape != first[key].shape:
                raise InputError(f'{name}: {key} is {tuple(tensor.shape)}, in {first_name} {tuple(first[key].shape)}')
            if tensor.is_floating_point():
                sums[key] += tensor.double() * weight
            elif not torch.equal(tensor, first[key]):
                raise InputError(f'{name}: {key} (integer) differs from {first_name}\'s; cannot average it')
    return {**{key: total.to(first[key].dtype) if first[key].is_floating_point() else total
               for key, total in sums.items()}, **extras}


def frozen_extra_tensors(named_state_dicts):
    """{key: tensor} of the tensors that some of [(file name, state dict), ...] lack, a copy of those that hold it;
    a file whose copy differs from the first holder's (values, shape or dtype), or that shares no tensor, is named."""
    common = set.intersection(*(set(state_dict) for _, state_dict in named_state_dicts))
    if not common:  # e.g. a 'module.' prefix or a discriminator: not one model's checkpoints
        (first_name, first), rest = named_state_dicts[0], named_state_dicts[1:]
        odd = next((name for name, state_dict in rest if not state_dict.keys() & first.keys()), rest[-1][0])
        raise InputError(f'{odd}: shares no tensor with the other checkpoints; --frozen-extras copies only a part '
                         'that some of one model\'s checkpoints lack')
    extras, holders = {}, {}
    for name, state_dict in named_state_dicts:
        for key in state_dict.keys() - common:
            tensor = state_dict[key]
            if key not in extras:
                extras[key], holders[key] = tensor.clone(), name
            elif tensor.dtype != extras[key].dtype or not torch.equal(tensor, extras[key]):  # equal: of one shape too
                raise InputError(f'{name}: {key}, which not every checkpoint holds, differs from {holders[key]}\'s; '
                                 '--frozen-extras copies only a part that is the same wherever it is held')
    return extras


def normalized_weights(weights, count):
    """``weights`` (one a checkpoint, non-negative, not all 0) divided by their sum; None stays None (uniform)."""
    if weights is None:
        return None
    if len(weights) != count:
        raise InputError(f'--weights: {len(weights)} numbers for {count} checkpoints; give one a checkpoint')
    if min(weights) < 0 or sum(weights) <= 0:
        raise InputError(f'--weights: {" ".join(map(str, weights))}: give non-negative numbers, not all 0')
    return [weight / sum(weights) for weight in weights]


def average_checkpoints(checkpoints, out, param_key=None, weights=None, frozen_extras=False):
    """Write the (``weights``-weighted) average of ``checkpoints`` (paths) to ``out`` as {'params': ...}; returns the
    keys read. frozen_extras: as ``average_state_dicts``."""
    if len(checkpoints) < 2:
        raise InputError(f'give at least two checkpoints to average (got {len(checkpoints)})')
    weights = normalized_weights(weights, len(checkpoints))
    if osp.abspath(out) in {osp.abspath(path) for path in checkpoints}:
        raise InputError(f'--out {out}: is one of the checkpoints to average; write elsewhere')
    read = [(path, read_weights(path, param_key)) for path in checkpoints]
    average = average_state_dicts([(path, state_dict) for path, (_, state_dict) in read], weights, frozen_extras)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    atomic_save({'params': average}, out)
    return [key for _, (key, _) in read]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoints', nargs='+', help='net_g_*.pth of one run (or bare generator state dicts)')
    parser.add_argument('--out', required=True, help='checkpoint to write (.pth)')
    parser.add_argument('--weights', type=float, nargs='+', metavar='W',
                        help='one non-negative weight a checkpoint, divided by their sum (default: all equal)')
    parser.add_argument('--frozen-extras', action='store_true',
                        help='copy the tensors that only some checkpoints hold (the same in each) instead of refusing')
    add_param_key_argument(parser, 'each checkpoint')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('average_checkpoints.py', lambda: report(args))


def report(args):
    keys = average_checkpoints(args.checkpoints, args.out, args.param_key, args.weights, args.frozen_extras)
    weighting = '' if args.weights is None else f' weighted {" ".join(map(str, args.weights))}'
    print(f'{args.out}: the average of {len(keys)} checkpoints\' {", ".join(sorted(set(map(str, keys))))}{weighting}')


if __name__ == '__main__':
    main()
