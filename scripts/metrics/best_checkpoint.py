"""The checkpoint of an experiment's best validation, as its training logs record it (a resumed run writes a new log;
all are read): the highest psnr (or ssim) of one validation set, optionally among the iterations where other sets
score at least given values.

    python scripts/metrics/best_checkpoint.py experiments/MSIAGAN_LOLv1_recommended [--metric ssim]
    python scripts/metrics/best_checkpoint.py experiments/MSIAGAN_LOLv1_exposure --dataset LOL-v1-our485-val \
        --at-least references-in=15.04 darkened-x0.1=20.54

prints that iteration (the generator is models/net_g_<iteration>.pth), or ``latest`` when the best was the
validation BasicSR runs after the last iteration, which has no numbered checkpoint (models/net_g_latest.pth). Each
validation (BasicSR's ``Validation <set>`` and its ``# <metric>: <value>`` lines) belongs to the iteration of the
last progress line (``iter: <n>``) before it, so logger:print_freq must divide val:val_freq. --dataset defaults to
the first set validated; ties go to the earliest iteration.
"""
import argparse
import glob
import re
from os import path as osp

from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError

PROGRESS = re.compile(r'\[epoch:\s*\d+, iter:\s*([\d,]+)')
VALIDATION = re.compile(r'INFO: Validation (.+?)\s*$')
METRIC = re.compile(r'# (\w+): (\S+)\s+Best:')


def validations(experiment):
    """[(log index, iteration or 'latest', {set: {metric: value}})]: every validation round in the experiment's
    logs, oldest first."""
    logs = sorted(glob.glob(osp.join(experiment, 'train_*.log')))  # train_<name>_<date>_<time>.log: oldest first
    if not logs:
        raise InputError(f'{experiment}: holds no train_*.log')
    rounds, scores = [], None
    for index, log in enumerate(logs):
        iteration = None
        with open(log) as f:
            for line in f:
                progress, validation, metric = PROGRESS.search(line), VALIDATION.search(line), METRIC.search(line)
                if 'End of training' in line:
                    iteration = 'latest'
                elif progress and iteration != 'latest':
                    iteration = int(progress.group(1).replace(',', ''))
                elif validation and iteration is not None:
                    if not rounds or rounds[-1][:2] != (index, iteration):
                        rounds.append((index, iteration, {}))
                    scores = rounds[-1][2].setdefault(validation.group(1), {})
                elif metric and scores is not None:
                    scores[metric.group(1)] = float(metric.group(2))
    return rounds


def best_checkpoint(experiment, metric='psnr', dataset=None, at_least=None):
    at_least = at_least or {}
    rounds = [r for r in validations(experiment) if any(metric in s for s in r[2].values())]
    if not rounds:
        raise InputError(f'{experiment}: its logs record no validation of {metric}')
    names = list(dict.fromkeys(name for _, _, scores in rounds for name in scores))
    dataset = dataset or names[0]
    for name in (dataset, *at_least):
        if name not in names:
            raise InputError(f"{experiment}: no validation set '{name}' in its logs (they name: {', '.join(names)})")
    eligible = [(scores[dataset][metric], -order, iteration) for order, (_, iteration, scores) in enumerate(rounds)
                if metric in scores.get(dataset, {})
                and all(scores.get(name, {}).get(metric, float('-inf')) >= low for name, low in at_least.items())]
    if not eligible:
        limits = ', '.join(f'{name} {metric} >= {low:g}' for name, low in at_least.items())
        raise InputError(f'{experiment}: no validation has {limits}')
    iteration = max(eligible)[2]
    name = f'net_g_{iteration}.pth'
    if osp.isfile(osp.join(experiment, 'models', name)):
        return str(iteration)
    raise InputError(f"{experiment}: the best validation's generator ({name}) was not saved: validations and "
                     'checkpoints at different iterations?')


def parse_limit(text):
    """'<set>=<value>' -> (set, value); argparse's type for --at-least."""
    name, _, value = text.rpartition('=')
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not <set>=<number>") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('experiment', help='experiments/<name>')
    parser.add_argument('--metric', choices=('psnr', 'ssim'), default='psnr', help='higher is better (default: psnr)')
    parser.add_argument('--dataset', help='the validation set to choose on (default: the first one validated)')
    parser.add_argument('--at-least', nargs='+', type=parse_limit, default=[], metavar='SET=VALUE',
                        help="only iterations where these sets' --metric is at least VALUE")
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('best_checkpoint.py', lambda: print(best_checkpoint(args.experiment, args.metric, args.dataset,
                                                                dict(args.at_least))))


if __name__ == '__main__':
    main()
