"""Flicker of enhanced video, frame by frame against temporal smoothing, on generated clips.

    python scripts/metrics/video_flicker.py                          # the shipped weights, a scikit-image photo
    python scripts/metrics/video_flicker.py --image datasets/LOL-v1/eval15/high/1.png --temporal-smoothing 1

Two clips of --frames frames at --fps, --size W H each, are made from --image, a well-exposed photo: a slow pan
across it (a crop window of 3/4 of its height moving across --pan of its width over the clip), darkened as a camera
sees a dim scene, with fresh noise in every frame (msiagan.data.low_light.pan_clip):

- constant: the light kept is --exposure throughout;
- ramp: the window stands still (no pan: the content does not change) and the light kept rises from --exposure to
  --ramp times it over the clip, evenly in stops.

Each is enhanced in memory (no encoding) frame by frame (temporal smoothing 0) and with --temporal-smoothing, as
msiagan-enhance does (Enhancer(fast=True).frames). Printed for each: flicker, the standard deviation of the
change of the output's mean grey (8-bit levels, the mean of R, G and B) from one frame to the next; the largest jump,
the largest change of that change from one frame to the next (a step in brightness, where the course of the output
turns at once; on the ramp, flicker also counts how the brightness's course bends over the clip); and the output's
mean grey over the first and the last second. Smoothing should cut the flicker, keep the largest jump within about
frame by frame's and, on the ramp, keep the output's brightness rising from the first second to the last.
"""
import argparse

import numpy as np
import torch

import msiagan  # noqa: F401  (first: makes basicsr importable)
from skimage import data as skdata

from msiagan.data.image_io import read_photo
from msiagan.data.low_light import pan_clip
from msiagan.inference import Enhancer
from msiagan.inference.temporal import DEFAULT_TIME_CONSTANT
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.weights import SHIPPED_WEIGHTS


def mean_grey(frame):
    """The mean of a uint8 RGB frame's values, 8-bit levels."""
    return float(frame.mean())


def measure(enhancer, clip, fps, time_constant):
    """Each frame of ``clip`` through ``enhancer.frames(fps, time_constant)``: (flicker, largest jump, mean grey over
    the first second, over the last second), in 8-bit levels."""
    frames = enhancer.frames(fps, time_constant)
    greys = np.array([mean_grey(frames.enhance_rgb_uint8(frame)) for frame in clip])
    second = max(round(fps), 1)
    changes = np.diff(greys)
    jump = float(np.abs(np.diff(changes)).max()) if len(changes) > 1 else 0.0
    return float(changes.std()), jump, float(greys[:second].mean()), float(greys[-second:].mean())


def clips(photo, args):
    """{'constant': frames, 'ramp': frames} (module docstring); made anew on each call (each is consumed once)."""
    ramp = args.exposure * args.ramp ** np.linspace(0, 1, args.frames)
    return {'constant': pan_clip(photo, tuple(args.size), args.frames, args.pan, [args.exposure] * args.frames),
            'ramp': pan_clip(photo, tuple(args.size), args.frames, 0.0, ramp)}


def flicker_table(enhancer, photo, args):
    """{(clip name, time constant): (flicker, largest jump, first second, last second)} for time constants 0 and the
    one asked."""
    results = {}
    for time_constant in (0.0, args.temporal_smoothing):
        for name, clip in clips(photo, args).items():
            results[name, time_constant] = measure(enhancer, clip, args.fps, time_constant)
    return results


def load(image):
    """The photo to pan across: --image, or scikit-image's 'coffee' (RGB uint8)."""
    if image is None:
        return skdata.coffee()
    rgb, _ = read_photo(image)
    return np.round(rgb * 255).astype(np.uint8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--image', help="a well-exposed photo (default: scikit-image's coffee)")
    parser.add_argument('--weights', default=SHIPPED_WEIGHTS, help='the generator (default: the shipped weights)')
    parser.add_argument('--size', type=int, nargs=2, default=(640, 360), metavar=('W', 'H'))
    parser.add_argument('--frames', type=int, default=120)
    parser.add_argument('--fps', type=float, default=30.0)
    parser.add_argument('--pan', type=float, default=0.2, help='fraction of the width the window moves')
    parser.add_argument('--exposure', type=float, default=0.05, help='fraction of the light kept')
    parser.add_argument('--ramp', type=float, default=4.0, help='the ramp clip ends this many times brighter')
    parser.add_argument('--temporal-smoothing', type=float, default=DEFAULT_TIME_CONSTANT, metavar='SECONDS')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    args = parser.parse_args(argv)
    run_cli('video_flicker.py', lambda: report(args))


def report(args):
    if args.frames < 2 or args.fps <= 0 or min(args.size) < 8 or args.temporal_smoothing <= 0 or \
            not 0 < args.exposure <= 1 or args.ramp <= 0 or not 0 <= args.pan <= 1:
        raise InputError('need --frames >= 2, --fps > 0, --size >= 8x8, --temporal-smoothing > 0, '
                         '0 < --exposure <= 1, --ramp > 0, 0 <= --pan <= 1')
    torch.set_num_threads(args.threads)
    results = flicker_table(Enhancer(args.weights, fast=True), load(args.image), args)
    print(f'{args.frames} frames at {args.fps:g} fps, {args.size[0]}x{args.size[1]}, pan {args.pan:g} of the width, '
          f'light kept {args.exposure:g} (ramp: to {args.exposure * args.ramp:g}); {args.weights}')
    print('clip      smoothing  flicker (levels)  largest jump  first second  last second')
    for (name, time_constant), (flicker, jump, first, last) in results.items():
        print(f'{name:9} {time_constant:7g} s  {flicker:16.3f}  {jump:12.3f}  {first:12.2f}  {last:11.2f}')
    for name in ('constant', 'ramp'):
        ratio = results[name, args.temporal_smoothing][0] / results[name, 0.0][0]
        print(f'{name}: flicker with smoothing / frame by frame = {ratio:.3f}')


if __name__ == '__main__':
    main()
