"""How much an input's brightness tells about its reference's, over a paired dataset.

    python scripts/exposure_stats.py --data datasets/LOL-v1/our485 \\
        --meta-info msiagan/data/meta_info/lol_v1_train.txt

prints, over the pairs, the references' grey means (average and standard deviation), the Pearson
correlation of the inputs' grey means, and of log(1 + them), with the references' grey means, and the
brightness error of the best constant guess: the mean |reference grey mean - their average|. Grey means
are msiagan.metrics.gt_mean_metric.grey_mean, in grey levels of [0, 255], as compare.py's brightness error. A correlation
near 0 means that no function of the input's exposure predicts how bright the reference is.
"""
import argparse

import numpy as np
from msiagan.data.image_io import read_bgr_uint8
from msiagan.data.pairing import paired_paths_from_root
from msiagan.entry import run_cli
from msiagan.errors import InputError
from msiagan.metrics.gt_mean_metric import grey_mean


def exposure_stats(pairs):
    """Dict of the statistics above for [{'lq_path', 'gt_path'}] (at least two pairs)."""
    if len(pairs) < 2:
        raise InputError(f'{len(pairs)} pair(s): a correlation needs at least two')
    means = np.array([[grey_mean(read_bgr_uint8(pair[key])) for key in ('lq_path', 'gt_path')] for pair in pairs])
    inputs, references = means[:, 0], means[:, 1]
    return {
        'pairs': len(pairs),
        'reference mean': references.mean(),
        'reference std': references.std(),
        'r(input, reference)': np.corrcoef(inputs, references)[0, 1],
        'r(log input, reference)': np.corrcoef(np.log(inputs + 1), references)[0, 1],
        'constant-guess error': np.abs(references - references.mean()).mean(),
    }


def report(args):
    pairs = paired_paths_from_root(args.data, args.meta_info)
    stats = exposure_stats(pairs)
    print(f"{stats['pairs']} pairs; reference grey mean {stats['reference mean']:.1f} +- "
          f"{stats['reference std']:.1f}; r(input, reference) {stats['r(input, reference)']:.3f}; "
          f"r(log input, reference) {stats['r(log input, reference)']:.3f}; brightness error of the best "
          f"constant guess {stats['constant-guess error']:.1f} grey levels")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='folder with low/ and high/ (pairs by file stem)')
    parser.add_argument('--meta-info', help='use only the stems this meta_info file lists (e.g. the training split)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('exposure_stats.py', lambda: report(args))


if __name__ == '__main__':
    main()
