"""The checkpoint of an experiment's best validation, as its training logs record it: in each log (a resumed run
writes a new one) BasicSR's last ``# <metric>: <value>	Best: <best> @ <iteration> iter`` line; of those, the
highest best (psnr or ssim).

    python scripts/metrics/best_checkpoint.py experiments/MSIAGAN_LOLv1_recommended [--metric ssim]

prints that iteration (the generator is models/net_g_<iteration>.pth), or ``latest`` when the best was the
validation BasicSR runs after the last iteration, which has no numbered checkpoint (models/net_g_latest.pth).
"""
import argparse
import glob
import re
from os import path as osp

from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError


def best_checkpoint(experiment, metric='psnr'):
    logs = sorted(glob.glob(osp.join(experiment, 'train_*.log')))  # train_<name>_<date>_<time>.log: oldest first
    if not logs:
        raise InputError(f'{experiment}: holds no train_*.log')
    pattern = re.compile(rf'# {metric}: \S+\s+Best: (\S+) @ (\d+) iter')
    bests = []
    for log in logs:
        with open(log) as f:
            text = f.read()
        records = pattern.findall(text)
        if records:
            bests.append((float(records[-1][0]), int(records[-1][1])))
    if not bests:
        raise InputError(f'{experiment}: its logs record no validation of {metric}')
    iteration = max(bests)[1]
    if osp.isfile(osp.join(experiment, 'models', f'net_g_{iteration}.pth')):
        return str(iteration)
    total_iter = re.search(r'^\s*total_iter: (\d+)$', text, re.MULTILINE)  # the newest log's options
    if total_iter and iteration > int(total_iter.group(1)) and osp.isfile(osp.join(experiment, 'models',
                                                                                    'net_g_latest.pth')):
        return 'latest'  # the validation after the last iteration
    raise InputError(f"{experiment}: the best validation's generator (iteration {iteration}) was not saved: "
                     'validations and checkpoints at different iterations?')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('experiment', help='experiments/<name>')
    parser.add_argument('--metric', choices=('psnr', 'ssim'), default='psnr', help='higher is better (default: psnr)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('best_checkpoint.py', lambda: print(best_checkpoint(args.experiment, args.metric)))


if __name__ == '__main__':
    main()
