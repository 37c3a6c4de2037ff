"""Compare enhancement models side by side on one paired dataset.

    python scripts/metrics/compare.py --data datasets/LOL-v1/eval15 --out results/compare \\
        --model "MSIA-GAN (ours)" options/train/recommended_gan_lol.yml msiagan/weights/msiagan_lol_v1.pth \\
        --model "pix2pix U-Net" options/train/baseline_unet_gan_lol.yml experiments/.../net_g_latest.pth \\
        --images 1 22

--meta-info restricts the pairs to a list (msiagan/data/meta_info/lol_v1_val.txt: the validation split).
Each --model is LABEL NETWORK WEIGHTS, NETWORK being a BasicSR options file (its network_g) or a registered
arch name (its default arguments); a network that cannot be built, or whose output is not the reference's
size (e.g. a super-resolution model), is refused in one line. Writes <out>/compare.md and <out>/compare.csv
(PSNR and SSIM with BasicSR's metrics on RGB, crop_border 0; the GT-mean variant in its own columns; the
brightness error, |grey mean of output - grey mean of reference| in grey levels of [0, 255]; parameters; GMAC
at 256x256; CPU latency at 600x400) and <out>/grid_<stem>.png for each --images stem: input | models | reference.
--orientations adds two PSNR columns: the inputs mirrored left to right, and turned by 90, 180 and 270 degrees
(their mean), each output turned back before it is scored; a model that does not depend on the orientation
scores them as its PSNR. --jpeg-quality Q gives each pair's input as saved to JPEG at quality Q (OpenCV's encoder,
4:2:0), as cameras and phones save photos, wherever it is enhanced (the metrics, --orientations,
--exposure-to-reference, the grids' input; not the references of --kept and --sweep, nor --unpaired's images), and
says so in its own column.

How a model treats exposure, each in its own columns: --kept gives each reference as the input and scores the output
against it (``kept PSNR``, the mean, and ``kept worst``): a model should leave a well-exposed photo as it is.
--sweep gives each reference darkened in linear light by SWEEP_FACTORS (``sweep x0.05`` ... ``sweep x1``: linear
light times the factor, back with 1/2.2, rounded to uint8, no noise) and scores the output against the reference: a
model should give the same photo at every darkness (each image's PSNR capped at MAX_PSNR, as an output equal to its
reference scores infinity). --exposure-to-reference gives each input the --exposure stops that take its default
output's linear mean to its reference's (within 4 stops) and scores that output (``PSNR (EV to GT)``, ``SSIM (EV to
GT)``): how well the exposure a user asks for is rendered (a generator with an exposure condition renders it; with
--rescale-exposure its output is only rescaled). --unpaired DIR enhances DIR's images (each first shrunk with
INTER_AREA to at most UNPAIRED_LONG_SIDE pixels on its long side) and gives the median and the largest grid energy
of the outputs (``grid median``, ``grid max``; msiagan.metrics.grid_energy): the strength of a pattern repeating
every 8 pixels in grey levels, which flat areas should not have.

Each model runs as msiagan-enhance runs it, with the exposure handled on purpose where its weights have the
training range beside them (msiagan.inference.exposure); the ``exposure handling`` column says, per model, whether
it was on. --network-only runs every generator alone, as BasicSR's test and validation do (research comparisons).

Any BasicSR generator that keeps the image size can be a --model. The archs of other BasicSR plugins are
registered only when their package is imported: --import MODULE (repeatable) imports it before any network is
built, e.g. --import realesrgan for Real-ESRGAN's SRVGGNetCompact or --import hat for HAT (the module must be
importable: installed, or on PYTHONPATH). A module that cannot be imported is refused in one line.
"""
import argparse
import csv
import importlib
import math
import os
from functools import partial
from os import path as osp

import msiagan  # noqa: F401  (first: makes basicsr importable, registers everything)
import cv2
import numpy as np
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim
from msiagan.data.image_io import IMAGE_EXTENSIONS, read_bgr_uint8
from msiagan.data.jpeg_inputs import save_as_jpeg
from msiagan.data.pairing import paired_paths_from_root
from msiagan.inference import Enhancer
from msiagan.inference.visualize import labelled_grid
from msiagan.metrics import calculate_brightness_error, calculate_psnr_gtmean, calculate_ssim_gtmean
from msiagan.inference.exposure import EXPOSURE_LIMIT
from msiagan.metrics.exposure import darken_in_linear_light, linear_mean
from msiagan.metrics.grid_energy import BLOCK, grid_energy
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.profiling import count_gmac, count_parameters, measure_latency

METRICS = {'PSNR': calculate_psnr, 'SSIM': calculate_ssim, 'PSNR (GT-mean)': calculate_psnr_gtmean,
           'SSIM (GT-mean)': calculate_ssim_gtmean, 'brightness error': calculate_brightness_error}
# --orientations: column -> the (view, undo) pairs of (H, W, C) arrays whose outputs' mean PSNR it shows
ORIENTATIONS = {'PSNR mirrored': [(np.fliplr, np.fliplr)],
                'PSNR turned': [(partial(np.rot90, k=k), partial(np.rot90, k=-k)) for k in (1, 2, 3)]}
SWEEP_FACTORS = (0.05, 0.1, 0.2, 0.4, 0.7, 1)  # --sweep: exposure factors in linear light
UNPAIRED_LONG_SIDE = 1200  # --unpaired: images shrunk to at most this many pixels on their long side
MAX_PSNR = 100.0  # dB: --kept and --sweep cap each image's PSNR, infinite for an output equal to its reference


def size_of(img):
    """'WxH' of an (H, W, C) image."""
    return f'{img.shape[1]}x{img.shape[0]}'


def oriented_psnr(enhancer, low, high, views):
    """Mean PSNR (dB) against ``high`` of the outputs for ``views`` of ``low``, each (view, undo) of an (H, W, C)
    uint8 array, each output undone first."""
    return np.mean([calculate_psnr(undo(enhancer.enhance_bgr_uint8(np.ascontiguousarray(view(low)))), high, 0)
                    for view, undo in views])


def read_input(path, jpeg_quality=None):
    """A pair's input at ``path`` as uint8 (H, W, 3) BGR; with ``jpeg_quality``, as saved to JPEG at that quality
    and read back."""
    img = read_bgr_uint8(path)
    return img if jpeg_quality is None else save_as_jpeg(img, jpeg_quality)


def evaluate(label, enhancer, pairs, keep=(), orientations=False, jpeg_quality=None):
    """(mean of each METRICS entry, and with ``orientations`` each ORIENTATIONS one, over the pairs, {stem:
    enhanced uint8 BGR} for the stems in ``keep``); the inputs read by ``read_input`` with ``jpeg_quality``.

    A model whose output is not the size of the reference (e.g. a super-resolution one) is refused at the
    first pair, before any metric.
    """
    scores, kept = {name: [] for name in [*METRICS, *(ORIENTATIONS if orientations else ())]}, {}
    for pair in pairs:
        low, high = read_input(pair['lq_path'], jpeg_quality), read_bgr_uint8(pair['gt_path'])
        output = enhancer.enhance_bgr_uint8(low)
        if output.shape != high.shape:
            raise InputError(f'--model {label!r}: its output is {size_of(output)} but the reference '
                             f'{pair["gt_path"]} is {size_of(high)}; compare needs a model that keeps the size')
        for name, metric in METRICS.items():
            scores[name].append(metric(output, high, crop_border=0))
        if orientations:
            for name, views in ORIENTATIONS.items():
                scores[name].append(oriented_psnr(enhancer, low, high, views))
        if pair['key'] in keep:
            kept[pair['key']] = output
    return {name: float(np.mean(values)) for name, values in scores.items()}, kept


def kept_scores(enhancer, pairs):
    """{'kept PSNR': mean, 'kept worst': lowest} PSNR (dB) of the outputs for the references given as inputs,
    each against itself."""
    scores = []
    for pair in pairs:
        high = read_bgr_uint8(pair['gt_path'])
        scores.append(min(calculate_psnr(enhancer.enhance_bgr_uint8(high), high, 0), MAX_PSNR))
    return {'kept PSNR': float(np.mean(scores)), 'kept worst': float(np.min(scores))}


def sweep_scores(enhancer, pairs):
    """{'sweep x<factor>': mean PSNR (dB)} against each reference of the outputs for the reference darkened by each
    of SWEEP_FACTORS in linear light."""
    scores = {factor: [] for factor in SWEEP_FACTORS}
    for pair in pairs:
        high = read_bgr_uint8(pair['gt_path'])
        for factor in SWEEP_FACTORS:
            output = enhancer.enhance_bgr_uint8(darken_in_linear_light(high, factor))
            scores[factor].append(min(calculate_psnr(output, high, 0), MAX_PSNR))
    return {f'sweep x{factor:g}': float(np.mean(values)) for factor, values in scores.items()}


def exposure_to_reference_scores(enhancer, pairs, jpeg_quality=None):
    """{'PSNR (EV to GT)': mean, 'SSIM (EV to GT)': mean} of the outputs given the exposure stops (--exposure, within
    EXPOSURE_LIMIT) that take the default output's linear mean to the reference's: what a user who sets the
    exposure by eye reaches, against GT-mean's rescaling of the output (the inputs read by ``read_input`` with
    ``jpeg_quality``)."""
    scores = {'PSNR (EV to GT)': [], 'SSIM (EV to GT)': []}
    for pair in pairs:
        low, high = read_input(pair['lq_path'], jpeg_quality), read_bgr_uint8(pair['gt_path'])
        stops = math.log2(max(linear_mean(high), 1e-8) / max(linear_mean(enhancer.enhance_bgr_uint8(low)), 1e-8))
        output = enhancer.at_exposure(min(max(stops, -EXPOSURE_LIMIT), EXPOSURE_LIMIT)).enhance_bgr_uint8(low)
        scores['PSNR (EV to GT)'].append(calculate_psnr(output, high, 0))
        scores['SSIM (EV to GT)'].append(calculate_ssim(output, high, 0))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def unpaired_paths(folder):
    """The image files of ``folder`` (sorted; sub-folders not read); an InputError if it is not a folder of images."""
    if not osp.isdir(folder):
        raise InputError(f'--unpaired {folder}: not a folder')
    paths = sorted(osp.join(folder, name) for name in os.listdir(folder)
                   if osp.splitext(name)[1].lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise InputError(f'--unpaired {folder}: holds no images')
    return paths


def read_unpaired(path):
    """The image at ``path`` as uint8 (H, W, 3) BGR, shrunk with INTER_AREA to at most UNPAIRED_LONG_SIDE pixels on
    its long side."""
    img = read_bgr_uint8(path)
    if min(img.shape[:2]) < BLOCK:
        raise InputError(f'--unpaired {path}: {size_of(img)}, smaller than the {BLOCK}x{BLOCK} blocks of grid energy')
    scale = UNPAIRED_LONG_SIDE / max(img.shape[:2])
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img


def grid_scores(enhancer, paths):
    """{'grid median', 'grid max'}: grid energy (grey levels) of the outputs for the images at ``paths``."""
    energies = [grid_energy(enhancer.enhance_bgr_uint8(read_unpaired(path))) for path in paths]
    return {'grid median': float(np.median(energies)), 'grid max': float(np.max(energies))}


def cpu_latency_ms(net, threads, repeats):
    """Median eager CPU latency (ms) of one 600x400 image with ``threads`` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _, median, _ = measure_latency(net.cpu(), torch.rand(1, 3, 400, 600), repeats=repeats)
    finally:
        torch.set_num_threads(previous)
    return 1000 * median


def write_tables(rows, out_dir, threads):
    columns = list(rows[0])
    with open(osp.join(out_dir, 'compare.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    formats = {'PSNR': '{:.2f}', 'PSNR (GT-mean)': '{:.2f}', 'SSIM': '{:.4f}', 'SSIM (GT-mean)': '{:.4f}',
               'PSNR mirrored': '{:.2f}', 'PSNR turned': '{:.2f}', 'brightness error': '{:.1f}',
               'kept PSNR': '{:.2f}', 'kept worst': '{:.2f}', 'grid median': '{:.3f}', 'grid max': '{:.3f}',
               'PSNR (EV to GT)': '{:.2f}', 'SSIM (EV to GT)': '{:.4f}',
               **{f'sweep x{factor:g}': '{:.2f}' for factor in SWEEP_FACTORS},
               'params (M)': '{:.3f}', 'GMAC @256x256': '{:.2f}',
               f'CPU ms @600x400 ({threads} threads)': '{:.0f}'}
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + ' --- |' * len(columns)]
    for row in rows:
        cells = [formats.get(key, '{}').format(value) if value is not None else 'n/a' for key, value in row.items()]
        lines.append('| ' + ' | '.join(cells) + ' |')
    with open(osp.join(out_dir, 'compare.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return '\n'.join(lines)


def import_plugins(modules):
    """Import each of ``modules`` (dotted names), so that the archs they register are in BasicSR's registries."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # not found, or its own import failed: one line that names it and why
            first_line = (str(error).splitlines() or [''])[0]
            raise InputError(f'--import {name}: cannot be imported ({type(error).__name__}: {first_line})') from None


def compare():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='folder with low/ and high/ (pairs by file stem)')
    parser.add_argument('--meta-info', help='use only the stems this meta_info file lists (e.g. a validation split)')
    parser.add_argument('--model', nargs=3, action='append', required=True, metavar=('LABEL', 'NETWORK', 'WEIGHTS'))
    parser.add_argument('--import', dest='imports', action='append', default=[], metavar='MODULE',
                        help='import MODULE first, so that the archs it registers can be a --model (repeatable; '
                        'e.g. realesrgan, hat)')
    parser.add_argument('--out', default='results/compare')
    parser.add_argument('--images', nargs='*', default=None, help='stems to show in grids (default: the first)')
    parser.add_argument('--grid-scale', type=float, default=1.0, help='resize factor of the images in the grids')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads for the latency column')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs for the latency column (0: skip)')
    parser.add_argument('--orientations', action='store_true',
                        help='also PSNR on mirrored and on turned inputs (outputs turned back)')
    parser.add_argument('--kept', action='store_true',
                        help='also PSNR of the outputs for the references given as inputs (mean and worst)')
    parser.add_argument('--sweep', action='store_true', help='also PSNR of the outputs for the references darkened '
                        f"in linear light by {', '.join(f'{factor:g}' for factor in SWEEP_FACTORS)}")
    parser.add_argument('--exposure-to-reference', action='store_true',
                        help='also PSNR and SSIM of the outputs given the --exposure stops that take the default '
                        "output's linear mean to the reference's")
    parser.add_argument('--unpaired', metavar='DIR',
                        help="also the grid energy of the outputs for DIR's images (median and largest)")
    parser.add_argument('--rescale-exposure', action='store_true',
                        help='a generator that takes an exposure (exposure_condition) has its output only rescaled to '
                        'the exposure that exposure handling sets, as any other, rather than rendered at it')
    parser.add_argument('--jpeg-quality', type=int, metavar='Q',
                        help="each pair's input as saved to JPEG at quality Q (1 to 100), as cameras save photos")
    parser.add_argument('--network-only', action='store_true',
                        help='each generator alone, without exposure handling (as BasicSR test and validation)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args()
    for name, value, least in (('threads', args.threads, 1), ('repeats', args.repeats, 0)):
        if value < least:
            parser.error(f'--{name} {value}: must be at least {least}')
    if args.grid_scale <= 0:
        parser.error(f'--grid-scale {args.grid_scale}: must be above 0')
    if args.jpeg_quality is not None and not 1 <= args.jpeg_quality <= 100:
        parser.error(f'--jpeg-quality {args.jpeg_quality}: must be from 1 to 100')
    import_plugins(args.imports)  # first: a --model may name an arch that one of them registers

    pairs = paired_paths_from_root(args.data, args.meta_info)
    unpaired = unpaired_paths(args.unpaired) if args.unpaired else []
    stems = args.images if args.images is not None else [pairs[0]['key']]
    unknown = sorted(set(stems) - {pair['key'] for pair in pairs})
    if unknown:
        parser.error(f'--images: no pair named {unknown[0]!r} in {args.data}')
    os.makedirs(args.out, exist_ok=True)

    rows, enhanced = [], {}
    for label, network, weights in args.model:
        # eager: its GMAC and latency are measured
        enhancer = Enhancer(weights, network, device=args.device, exposure_handling=not args.network_only,
                            render_exposure=not args.rescale_exposure)
        scores, enhanced[label] = evaluate(label, enhancer, pairs, keep=set(stems), orientations=args.orientations,
                                           jpeg_quality=args.jpeg_quality)
        if args.kept:
            scores.update(kept_scores(enhancer, pairs))
        if args.sweep:
            scores.update(sweep_scores(enhancer, pairs))
        if args.exposure_to_reference:
            scores.update(exposure_to_reference_scores(enhancer, pairs, args.jpeg_quality))
        if args.unpaired:
            scores.update(grid_scores(enhancer, unpaired))
        inputs = {} if args.jpeg_quality is None else {'inputs': f'JPEG quality {args.jpeg_quality}'}
        rows.append({
            'model': label, 'exposure handling': enhancer.exposure_handling, **inputs, **scores,
            'params (M)': count_parameters(enhancer.net) / 1e6,
            'GMAC @256x256': count_gmac(enhancer.net, 256, 256, device=args.device),
            f'CPU ms @600x400 ({args.threads} threads)':
            cpu_latency_ms(enhancer.net, args.threads, args.repeats) if args.repeats else None,
        })
        print(f'{label}: PSNR {scores["PSNR"]:.2f} SSIM {scores["SSIM"]:.4f}', flush=True)
    print(write_tables(rows, args.out, args.threads))

    by_stem = {pair['key']: pair for pair in pairs}
    for stem in stems:
        low, high = read_input(by_stem[stem]['lq_path'], args.jpeg_quality), read_bgr_uint8(by_stem[stem]['gt_path'])
        row = [low] + [enhanced[label][stem] for label, _, _ in args.model] + [high]
        if args.grid_scale != 1:
            row = [cv2.resize(img, None, fx=args.grid_scale, fy=args.grid_scale, interpolation=cv2.INTER_AREA)
                   for img in row]
        grid = labelled_grid([row], ['input'] + [label for label, _, _ in args.model] + ['reference'])
        cv2.imwrite(osp.join(args.out, f'grid_{stem}.png'), grid)
    print(f'tables and grids in {args.out}')


if __name__ == '__main__':
    run_cli('compare.py', compare)
