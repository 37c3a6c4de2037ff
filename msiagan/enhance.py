"""Enhance your own photos and videos with a trained generator.

    msiagan-enhance -i photo.png|clip.mp4|folder|'*.jpg' -o enhanced/ [--weights W] [-opt O] [--tile N] [--compare]
                    [--exposure EV] [--network-only] [--temporal-smoothing SECONDS]
    msiagan-enhance --onnx model.onnx -i ... -o ... [same options]     # onnxruntime instead of PyTorch's generator
    python -m msiagan.enhance ...

Exposure is handled on purpose (msiagan.inference.exposure): a dark photo gets the exposure the generator chooses,
one already well exposed keeps its own, with a smooth blend in between; --exposure EV makes the result brighter or
darker by EV stops, highlights rolled off rather than clipped. --network-only runs the generator alone, as
BasicSR's test and validation do. Weights without the training range beside them (in <weights stem>.yml, written
by scripts/metrics/exposure_stats.py --write-range) run the generator alone, and a line says so.

Every image keeps its size, bit depth (8 or 16) and layout: grayscale comes back grayscale (the luma of
the enhanced colour image; with an alpha channel, as RGBA with equal colour channels) and an alpha channel
is copied unchanged. Files that are not images are skipped
with a warning; an image that fails is reported and the rest go on. On the CPU an MSIAGenerator runs
through msiagan.inference.fast_inference (the same output to about 1e-7, several times faster).

A video (.mp4, .m4v, .mov, .mkv, .webm, .avi; pip install 'msiagan[video]') comes back with its size, frame rate,
frame count and audio (msiagan.data.video_io), its exposure steady from frame to frame: what each frame's exposure
is decided from is averaged over time, with a time constant of --temporal-smoothing seconds (0: each frame on its
own), and afresh after each scene cut (msiagan.inference.temporal). --onnx runs an
export of scripts/model_conversion/export_onnx.py through onnxruntime (pip install 'msiagan[onnx]'), on the CPU,
with the same tiles and exposure handling (the training range is read from the file).
"""
import argparse
import glob
import os
import sys
import time
from os import path as osp

import msiagan  # noqa: F401  (first: makes basicsr importable, registers the networks)
import cv2
import numpy as np
import torch
from tqdm import tqdm

from msiagan.data.image_io import FULL_SCALE, IMAGE_EXTENSIONS, read_photo, restore_layout, split_alpha
from msiagan.data.video_io import VideoInput, import_av, is_video_file, write_enhanced
from msiagan.inference import DEFAULT_TILE_PAD, Enhancer
from msiagan.inference.exposure import EXPOSURE_LIMIT
from msiagan.inference.temporal import DEFAULT_TIME_CONSTANT
from msiagan.inference.visualize import labelled_grid
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError, OutputError
from msiagan.utils.weights import SHIPPED_WEIGHTS, add_param_key_argument
from msiagan.utils.writing import write_image_atomically

AUTO_TILE, AUTO_TILE_PIXELS = 512, 2_500_000  # images above ~2.5 MP go through in 512-pixel tiles


def is_image_file(path):
    return osp.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def collect_inputs(spec):
    """(images and videos, skipped) for a file, a folder (its files, not sub-folders) or a glob pattern, sorted."""
    if osp.isdir(spec):
        candidates = sorted(osp.join(spec, name) for name in os.listdir(spec) if not name.startswith('.'))
        candidates = [path for path in candidates if osp.isfile(path)]
    elif osp.isfile(spec):
        candidates = [spec]
    else:
        candidates = sorted(path for path in glob.glob(spec) if osp.isfile(path))
        if not candidates:
            raise InputError(f'-i {spec}: no such file, folder or matching files')
    images = [path for path in candidates if is_image_file(path) or is_video_file(path)]
    return images, [path for path in candidates if path not in images]


def side_by_side(before, after):
    """input | enhanced, labelled, as 8-bit BGR for viewing."""
    views = []
    for img in (before, after):
        colour, _ = split_alpha(img)
        colour = (colour.astype(np.float32) * 255 / FULL_SCALE[img.dtype]).round().astype(np.uint8)
        views.append(np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour)
    return labelled_grid([views], ['input', 'enhanced'])


def exposure_stops(text):
    """--exposure's value: a number of stops in [-EXPOSURE_LIMIT, EXPOSURE_LIMIT] (argparse names the option)."""
    try:
        stops = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number of stops') from None
    if not -EXPOSURE_LIMIT <= stops <= EXPOSURE_LIMIT:
        raise argparse.ArgumentTypeError(f'{text}: must be from {-EXPOSURE_LIMIT:g} to {EXPOSURE_LIMIT:g} stops')
    return stops


def time_constant(text):
    """--temporal-smoothing's value: 0 or more seconds (argparse names the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number of seconds') from None
    if not 0 <= value < float('inf'):
        raise argparse.ArgumentTypeError(f'{text}: must be 0 or more seconds')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='msiagan-enhance', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', required=True, help='an image or video, a folder of them, or a glob pattern')
    parser.add_argument('-o', '--output', required=True, help='output folder (created if needed)')
    parser.add_argument('--weights', help='checkpoint saved by BasicSR (params/params_ema) or a bare state dict '
                        '(default: the shipped LOL-v1 weights)')
    parser.add_argument('--onnx', metavar='MODEL', help='run this ONNX export of a generator through onnxruntime '
                        '(scripts/model_conversion/export_onnx.py) instead of --weights')
    parser.add_argument('-opt', '--options', help='options file whose network_g describes the weights '
                        '(default: <weights>.yml beside them, or the experiment folder\'s copy)')
    add_param_key_argument(parser, 'a BasicSR checkpoint')
    parser.add_argument('--tile', type=int, help='process tiles of this many pixels (0: whole image; '
                        f'default: {AUTO_TILE} for images over {AUTO_TILE_PIXELS / 1e6:.1f} MP, else whole)')
    parser.add_argument('--tile-pad', type=int, help='context pixels around each tile (default: as far as the '
                        'network sees, so tiles agree with the whole image; '
                        f'{DEFAULT_TILE_PAD} for a network that does not say)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda where available, else cpu '
                        '(--onnx: cpu)')
    parser.add_argument('--half', action='store_true', help='half precision (GPU only)')
    parser.add_argument('--compare', action='store_true', help='also write <name>_compare.png: input | enhanced')
    parser.add_argument('--exposure', type=exposure_stops, default=0.0, metavar='EV',
                        help=f'the result brighter (+) or darker (-) by EV stops, from {-EXPOSURE_LIMIT:g} to '
                        f'{EXPOSURE_LIMIT:g}; highlights rolled off, not clipped (default: 0)')
    parser.add_argument('--network-only', action='store_true',
                        help='the generator alone: no exposure handling (as BasicSR test and validation run it)')
    parser.add_argument('--temporal-smoothing', type=time_constant, default=DEFAULT_TIME_CONSTANT, metavar='SECONDS',
                        help='videos: the time constant over which the exposure follows the scene, in seconds; 0: '
                        f'each frame on its own (default: {DEFAULT_TIME_CONSTANT:g})')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    args = parser.parse_args(argv)
    if args.onnx:
        given = [option for option, value in (('--weights', args.weights), ('-opt', args.options),
                                              ('--param-key', args.param_key), ('--half', args.half),
                                              ('--device cuda', args.device == 'cuda')) if value]
        if given:
            parser.error(f'--onnx takes the generator from the ONNX file and runs on the CPU: drop {", ".join(given)}')
    args.weights = args.weights or SHIPPED_WEIGHTS
    args.device = args.device or ('cuda' if torch.cuda.is_available() and not args.onnx else 'cpu')
    if (args.tile or 0) < 0 or (args.tile_pad or 0) < 0:
        parser.error('--tile and --tile-pad take 0 or more pixels')
    if args.half and args.device != 'cuda':
        parser.error('--half needs --device cuda')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available here')
    return args


def enhance_file(enhancer, path, args):
    """Enhance one image or video into args.output with ``enhancer`` (an Enhancer); returns the number of frames
    (1 for an image)."""
    if is_video_file(path):
        return enhance_video_file(enhancer, path, args)
    rgb, layout = read_photo(path)
    x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
    out = enhancer.enhance_tensor(x, tile_size(args, *rgb.shape[:2]), args.tile_pad)[0].permute(1, 2, 0).numpy()
    result = restore_layout(out, layout)
    out_path = osp.join(args.output, osp.basename(path))
    write_image_atomically(out_path, result)
    if args.compare:
        write_image_atomically(osp.join(args.output, compare_name(path)),
                               side_by_side(restore_layout(rgb, layout), result))
    return 1


def tile_size(args, height, width):
    """--tile, or by default AUTO_TILE for images over AUTO_TILE_PIXELS, else 0 (whole)."""
    if args.tile is not None:
        return args.tile
    return AUTO_TILE if height * width > AUTO_TILE_PIXELS else 0


def enhance_video_file(enhancer, path, args):
    """Enhance one video into args.output (msiagan.data.video_io), frame by frame with a progress bar in frames
    per second; returns the number of frames."""
    out_path = osp.join(args.output, osp.basename(path))
    with VideoInput(path) as source:
        width, height = source.size
        frames = enhancer.frames(source.fps, args.temporal_smoothing, tile_size(args, height, width), args.tile_pad)
        with tqdm(total=source.frames or None, unit='frame', desc=osp.basename(path), leave=False) as bar:
            return write_enhanced(source, out_path, frames.enhance_rgb_uint8, bar.update)


def compare_name(path):
    """File name of the input | enhanced picture of ``path``: <stem>_compare.png."""
    return osp.splitext(osp.basename(path))[0] + '_compare.png'


def check_outputs(images, output, compare=False):
    """Refuse what would overwrite an input or write two results (or --compare pictures) to one name."""
    if osp.exists(output) and not osp.isdir(output):
        raise InputError(f'-o {output}: is a file, not a folder')
    by_name = {}
    for path in images:
        if osp.realpath(osp.dirname(path)) == osp.realpath(output):
            raise InputError(f'-o {output}: would overwrite the input {path}; choose another output folder')
        with_compare = compare and not is_video_file(path)  # --compare: images only
        for name in (osp.basename(path), compare_name(path)) if with_compare else (osp.basename(path),):
            other = by_name.setdefault(name, path)
            if other != path:
                raise InputError(f'-i: {other} and {path} would both be written as {osp.join(output, name)}')


def enhance(args):
    images, skipped = collect_inputs(args.input)
    for path in skipped:
        print(f'warning: {path}: not an image or video, skipped', file=sys.stderr)
    if not images:
        raise InputError(f'-i {args.input}: no images or videos found')
    check_outputs(images, args.output, args.compare)
    for video in [path for path in images if is_video_file(path)][:1]:
        import_av(video)  # before anything is enhanced
    if not args.onnx and not osp.isfile(args.weights):
        raise InputError(f'--weights {args.weights}: file does not exist')
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as error:
        raise InputError(f'-o {args.output}: cannot create this folder ({error.strerror})') from None
    # on the CPU through the fast path: the same output to about 1e-7, several times faster (docs/speed.md)
    enhancer = Enhancer(args.weights, args.options, args.param_key, args.device, args.half, fast=True,
                        exposure_handling=not args.network_only, exposure=args.exposure, onnx=args.onnx)
    if enhancer.exposure_handling == 'no range':
        print(f'note: {args.onnx or args.weights}: no exposure_range {"in" if args.onnx else "beside"} it, so the '
              'generator runs alone '
              '(scripts/metrics/exposure_stats.py --write-range adds one)', file=sys.stderr)

    failed, frames = [], 0
    start = time.perf_counter()
    for path in tqdm(images, unit='file', disable=len(images) < 2):
        try:
            frames += enhance_file(enhancer, path, args)
        except (InputError, OutputError) as error:  # its message names the file
            failed.append(path)
            tqdm.write(f'error: {error}', file=sys.stderr)
        except (cv2.error, RuntimeError, MemoryError) as error:
            failed.append(path)
            tqdm.write(f'error: {path}: {str(error).strip().splitlines()[-1]}', file=sys.stderr)
    seconds = time.perf_counter() - start
    videos = sum(is_video_file(path) for path in images if path not in failed)
    done = len(images) - len(failed) - videos
    rate = f'{frames / seconds:.2f} frames/s' if videos else f'{done / seconds:.2f} images/s'
    print(f'enhanced {done} image(s)' + (f' and {videos} video(s)' if videos else '') +
          f' in {seconds:.2f} s ({rate}) into {args.output}; {len(skipped)} skipped, {len(failed)} failed')
    if failed:
        sys.exit(1)


def main(argv=None):
    run_cli('msiagan-enhance', lambda: enhance(parse_args(argv)))


if __name__ == '__main__':
    main()
