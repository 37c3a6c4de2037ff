"""How much an input's brightness tells about its reference's, over a paired dataset.

    python scripts/metrics/exposure_stats.py --data datasets/LOL-v1/our485 \\
        --meta-info msiagan/data/meta_info/lol_v1_train.txt
    python scripts/metrics/exposure_stats.py --data datasets/LOL-v1/our485 \\
        --meta-info msiagan/data/meta_info/lol_v1_val.txt --grey-level 117.2 \\
        --fit-meta-info msiagan/data/meta_info/lol_v1_train.txt   # the level and the regression from the training split

prints, over the pairs, the references' grey means (average and standard deviation), the Pearson
correlation of the inputs' grey means, and of log(1 + them), with the references' grey means, and the
brightness error of the best constant guess: the mean |reference grey mean - their average|. Grey means
are msiagan.metrics.gt_mean_metric.grey_mean, in grey levels of [0, 255], as compare.py's brightness error.
A correlation near 0 means that no function of the input's exposure predicts how bright the reference is.

It also prints the PSNR at one fixed exposure: the mean PSNR (BasicSR's, RGB, crop_border 0; each capped at
MAX_PSNR, as a reference already at the level would score infinity) of each reference rescaled to the grey
mean --grey-level (default: the references' average) against itself. That is what an
enhancer right in everything but the exposure, which it set to that one level for every image, would score:
the ceiling of plain PSNR for models whose exposure does not follow the reference's. Give the training split's
average for another split, so that the level is not fitted to the split it is scored on.

With --fit-meta-info (another split of --data, e.g. the training split's) it also prints how well the input's
exposure, described by many statistics at once, predicts the reference's grey mean: a ridge regression
(penalty RIDGE on standardised features) of the references' grey means on ``exposure_features`` of the
inputs, fitted on those pairs and scored on these, as its mean absolute error in grey levels (beside the
constant guess of the fitted pairs' average) and its Pearson r. compare.py's brightness error of a model on
the same pairs says whether the model reads the input's exposure as well as such a regression does.

With --write-range FILE it measures, in linear light (msiagan.metrics.exposure), the pairs' range of exposure:
percentiles (RANGE_PERCENTILES) of the inputs' and the references' linear means and of the references'
highlights, and writes them as the ``exposure_range`` block of FILE, the options file beside a generator's weights
(``<weights stem>.yml``), replacing the block if there is one and keeping the rest of the file as it is. Give it
the pairs the generator was trained on: msiagan.inference.exposure reads the block to bring inputs within the
darkness the generator knows and to set the output's exposure on purpose:

    python scripts/metrics/exposure_stats.py --data datasets/LOL-v1/our485 \\
        --meta-info msiagan/data/meta_info/lol_v1_train.txt --write-range msiagan/weights/msiagan_lol_v1.yml
"""
import argparse
import re

import msiagan  # noqa: F401  (first: makes basicsr importable)
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr
from msiagan.data.image_io import read_bgr_uint8
from msiagan.data.pairing import paired_paths_from_root
from msiagan.basicsr_patches.options_file import read_options_text
from msiagan.inference.exposure import ExposureRange
from msiagan.metrics.exposure import highlight, linear_mean
from msiagan.metrics.gt_mean_metric import grey_mean, scale_to_grey_mean
from msiagan.utils.writing import write_atomically, write_failure
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError


MAX_PSNR = 100.0  # dB
RIDGE = 1.0  # fixed, not tuned on the split scored: light against the 460 training pairs of LOL-v1
RANGE_PERCENTILES = (2, 5, 10, 25, 50, 90, 95, 98)
RANGE_BLOCK = re.compile(r'^exposure_range:.*?(?=^\S|\Z)', re.MULTILINE | re.DOTALL)  # up to the next top-level key


def fixed_exposure_psnr(reference_paths, level):
    """Mean PSNR (dB, each at most MAX_PSNR) of each reference rescaled to grey mean ``level`` (of [0, 255])
    against itself."""
    scores = []
    for path in reference_paths:
        reference = read_bgr_uint8(path)
        scores.append(min(calculate_psnr(scale_to_grey_mean(reference, level), reference, crop_border=0), MAX_PSNR))
    return float(np.mean(scores))


def measure_pairs(pairs):
    """Reads each of [{'lq_path', 'gt_path'}] once. Dict: 'input means' and 'reference means', float64 (N,)
    grey means; 'input features', float64 (N, 63) ``exposure_features`` of the inputs; 'reference paths'."""
    input_means, reference_means, input_features = [], [], []
    for pair in pairs:
        img = read_bgr_uint8(pair['lq_path'])
        input_means.append(grey_mean(img))
        input_features.append(exposure_features(img))
        reference_means.append(grey_mean(read_bgr_uint8(pair['gt_path'])))
    return {'input means': np.array(input_means), 'reference means': np.array(reference_means),
            'input features': np.array(input_features).reshape(len(pairs), -1),
            'reference paths': [pair['gt_path'] for pair in pairs]}


def exposure_stats(measures, grey_level=None):
    """Dict of the statistics above for ``measure_pairs``' dict (at least two pairs); grey_level: --grey-level."""
    inputs, reference_means = measures['input means'], measures['reference means']
    if len(inputs) < 2:
        raise InputError(f'{len(inputs)} pair(s): a correlation needs at least two')
    black = [path for path, mean in zip(measures['reference paths'], reference_means) if mean == 0]
    if black:
        raise InputError(f'{black[0]}: reference is black (grey mean 0), so it has no exposure to compare')
    level = reference_means.mean() if grey_level is None else grey_level
    return {
        'pairs': len(inputs),
        'reference mean': reference_means.mean(),
        'reference std': reference_means.std(),
        'r(input, reference)': np.corrcoef(inputs, reference_means)[0, 1],
        'r(log input, reference)': np.corrcoef(np.log(inputs + 1), reference_means)[0, 1],
        'constant-guess error': np.abs(reference_means - reference_means.mean()).mean(),
        'fixed grey level': level,
        'fixed-exposure PSNR': fixed_exposure_psnr(measures['reference paths'], level),
    }


def exposure_features(img):
    """Statistics of the exposure of a uint8 (H, W, 3) BGR image, float64 (63,), all of log(1 + level):
    a 24-bin histogram of the grey levels (fractions of the pixels), 9 percentiles (1 to 99) of them, each
    channel's mean and standard deviation, and the grey levels area-averaged to a 6x4 grid (their layout)."""
    log_img = np.log1p(img.astype(np.float64))
    log_grey = np.log1p(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64))
    histogram = np.histogram(log_grey, bins=24, range=(0, np.log1p(255)))[0] / log_grey.size
    percentiles = np.percentile(log_grey, [1, 5, 10, 25, 50, 75, 90, 95, 99])
    channels = np.concatenate([log_img.mean(axis=(0, 1)), log_img.std(axis=(0, 1))])
    layout = cv2.resize(log_grey, (6, 4), interpolation=cv2.INTER_AREA).ravel()
    return np.concatenate([histogram, percentiles, channels, layout])


def exposure_prediction(fit_measures, measures):
    """Dict: the 'prediction error' and 'prediction r' on the pairs of ``measures`` of the ridge regression
    fitted on those of ``fit_measures`` (both ``measure_pairs``' dicts; module docstring), and the
    'fitted-average error' of the constant guess of the fitted pairs' average."""
    fit_features, fit_targets = fit_measures['input features'], fit_measures['reference means']
    if len(fit_targets) < 2:
        raise InputError(f'{len(fit_targets)} pair(s) to fit on: a regression needs at least two')
    features, targets = measures['input features'], measures['reference means']
    centre, spread = fit_features.mean(0), fit_features.std(0) + 1e-6
    design = (fit_features - centre) / spread
    weights = np.linalg.solve(design.T @ design + RIDGE * np.eye(design.shape[1]),
                              design.T @ (fit_targets - fit_targets.mean()))
    predictions = (features - centre) / spread @ weights + fit_targets.mean()
    return {
        'prediction error': np.abs(predictions - targets).mean(),
        'prediction r': np.corrcoef(predictions, targets)[0, 1],
        'fitted-average error': np.abs(targets - fit_targets.mean()).mean(),
    }


def exposure_range(pairs):
    """The ``exposure_range`` block (a dict) of the pairs: the number of pairs and RANGE_PERCENTILES percentiles of
    the inputs' and the references' linear means and of the references' highlights."""
    measures = {'input_mean': [], 'reference_mean': [], 'reference_highlight': []}
    for pair in pairs:
        low, high = read_bgr_uint8(pair['lq_path']), read_bgr_uint8(pair['gt_path'])
        measures['input_mean'].append(linear_mean(low))
        measures['reference_mean'].append(linear_mean(high))
        measures['reference_highlight'].append(highlight(high))
    return {'pairs': len(pairs), **{name: {f'p{q}': float(f'{np.percentile(values, q):.4g}') for q in RANGE_PERCENTILES}
                                    for name, values in measures.items()}}


def range_text(block, source):
    """The YAML text of an ``exposure_range`` block, with a comment saying what it is."""
    lines = ["# The exposure, in linear light, of the pairs this generator was trained on: percentiles of the",
             "# inputs' and references' linear means and of the references' highlights (msiagan.metrics.exposure),",
             "# written by scripts/metrics/exposure_stats.py --write-range; msiagan.inference.exposure reads them.",
             '# Measured on:',
             f'#   {source}',
             'exposure_range:', f'  pairs: {block["pairs"]}']
    for name in ('input_mean', 'reference_mean', 'reference_highlight'):
        lines.append(f'  {name}: {{' + ', '.join(f'{key}: {value}' for key, value in block[name].items()) + '}')
    return '\n'.join(lines) + '\n'


def write_range(path, block, source):
    """Write ``block`` as the ``exposure_range`` of the options file ``path`` (replacing the one there, with its
    comment), the rest of the file kept."""
    ExposureRange.from_options(block, f'--write-range {path}')  # a range that exposure handling can use
    text = read_options_text(path)
    comment = re.compile(r'(^#[^\n]*\n)*(?=^exposure_range:)', re.MULTILINE)
    text = RANGE_BLOCK.sub('', comment.sub('', text)).rstrip('\n')
    try:
        write_atomically(path, (text + '\n\n' + range_text(block, source)).encode())
    except OSError as error:
        raise write_failure(path, error) from None


def report(args):
    pairs = paired_paths_from_root(args.data, args.meta_info)
    if args.grey_level is not None and not 0 < args.grey_level <= 255:
        raise InputError(f'--grey-level {args.grey_level}: must be in (0, 255]')
    if args.write_range:
        block = exposure_range(pairs)
        write_range(args.write_range, block, args.data if not args.meta_info else f'{args.data}, {args.meta_info}')
        print(f"{block['pairs']} pairs; inputs' linear mean from {block['input_mean']['p2']} (2nd percentile) to "
              f"{block['input_mean']['p98']} (98th); written to {args.write_range}")
        return
    measures = measure_pairs(pairs)
    stats = exposure_stats(measures, args.grey_level)
    print(f"{stats['pairs']} pairs; reference grey mean {stats['reference mean']:.1f} +- "
          f"{stats['reference std']:.1f}; r(input, reference) {stats['r(input, reference)']:.3f}; "
          f"r(log input, reference) {stats['r(log input, reference)']:.3f}; brightness error of the best "
          f"constant guess {stats['constant-guess error']:.1f} grey levels; PSNR at one fixed exposure (grey level "
          f"{stats['fixed grey level']:.1f}) {stats['fixed-exposure PSNR']:.2f} dB")
    if args.fit_meta_info:
        fit_pairs = paired_paths_from_root(args.data, args.fit_meta_info)
        prediction = exposure_prediction(measure_pairs(fit_pairs), measures)
        print(f"fitted on {len(fit_pairs)} pairs, a regression on the inputs' exposure statistics predicts the "
              f"references' grey means to {prediction['prediction error']:.1f} grey levels (r "
              f"{prediction['prediction r']:.3f}); their average alone to {prediction['fitted-average error']:.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='folder with low/ and high/ (pairs by file stem)')
    parser.add_argument('--meta-info', help='use only the stems this meta_info file lists (e.g. the training split)')
    parser.add_argument('--grey-level', type=float,
                        help="the fixed exposure's grey mean in [0, 255] (default: the references' average)")
    parser.add_argument('--fit-meta-info',
                        help="also fit a regression of the references' grey means on the inputs' exposure statistics "
                             "over the pairs this meta_info file lists, and score it on those of --meta-info (module docstring)")
    parser.add_argument('--write-range', metavar='FILE',
                        help="measure the pairs' exposure range and write it into FILE, the options file beside a "
                             "generator's weights (module docstring)")
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('exposure_stats.py', lambda: report(args))


if __name__ == '__main__':
    main()
