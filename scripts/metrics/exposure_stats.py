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
"""
import argparse

import msiagan  # noqa: F401  (first: makes basicsr importable)
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr
from msiagan.data.image_io import read_bgr_uint8
from msiagan.data.pairing import paired_paths_from_root
from msiagan.metrics.gt_mean_metric import grey_mean, scale_to_grey_mean
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError


MAX_PSNR = 100.0  # dB
RIDGE = 1.0  # fixed, not tuned on the split scored: light against the 460 training pairs of LOL-v1


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


def report(args):
    pairs = paired_paths_from_root(args.data, args.meta_info)
    if args.grey_level is not None and not 0 < args.grey_level <= 255:
        raise InputError(f'--grey-level {args.grey_level}: must be in (0, 255]')
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
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('exposure_stats.py', lambda: report(args))


if __name__ == '__main__':
    main()
