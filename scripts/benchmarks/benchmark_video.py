"""Video speed: frames per second of msiagan-enhance on a video at 640x360 and 1280x720, on the CPU.

    python scripts/benchmarks/benchmark_video.py                     # the shipped weights, 2 threads, 60 frames
    python scripts/benchmarks/benchmark_video.py --frames 120 --temporal-smoothing 0 --weights W.pth

For each size, a clip of --frames frames at 30 fps (a pan across scikit-image's coffee photo, darkened with fresh
noise in every frame: msiagan.data.low_light.pan_clip) is encoded as H.264 in a temporary folder, then enhanced as
msiagan-enhance does it (decoded, Enhancer(fast=True).frames, encoded, through msiagan.data.video_io) and timed.
Printed for each size: frames per second of the whole (decoding, enhancing, encoding), and the share of that time
spent in the enhancement (Enhancer.frames, timed around each frame in the same run, so that other jobs on the machine
slow both alike). Timings on a shared machine are noisy: run it with nothing else running.
"""
import argparse
import tempfile
import time
from os import path as osp

import torch
from skimage import data as skdata

import msiagan  # noqa: F401  (first: makes basicsr importable)
from msiagan.data.low_light import pan_clip
from msiagan.data.video_io import VideoInput, import_av, write_enhanced
from msiagan.inference import Enhancer
from msiagan.inference.temporal import DEFAULT_TIME_CONSTANT
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.weights import SHIPPED_WEIGHTS

SIZES = ((640, 360), (1280, 720))  # W, H
FPS = 30


def write_clip(path, frames):
    """Encode ``frames`` (H, W, 3) uint8 RGB as H.264 at FPS (CRF 18, as msiagan-enhance writes)."""
    av = import_av(path)
    with av.open(path, 'w') as container:
        stream = container.add_stream('libx264', rate=FPS, options={'crf': '18'})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = 'yuv420p'
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))
        container.mux(stream.encode())


def frames_per_second(size, enhancer, args, folder):
    """(frames/s of the whole msiagan-enhance path, the share of its time spent enhancing) at ``size`` (W, H)."""
    clip = osp.join(folder, f'clip_{size[0]}x{size[1]}.mp4')
    write_clip(clip, list(pan_clip(skdata.coffee(), size, args.frames, 0.2, [0.05] * args.frames)))
    enhancing = []  # seconds of each frame's enhancement

    start = time.perf_counter()
    with VideoInput(clip) as source:
        frames = enhancer.frames(source.fps, args.temporal_smoothing)

        def enhance_frame(frame):
            began = time.perf_counter()
            out = frames.enhance_rgb_uint8(frame)
            enhancing.append(time.perf_counter() - began)
            return out

        write_enhanced(source, osp.join(folder, 'out.mp4'), enhance_frame)
    whole = time.perf_counter() - start
    return args.frames / whole, sum(enhancing) / whole


def benchmark(args):
    if args.frames < 1 or args.threads < 1 or args.temporal_smoothing < 0:
        raise InputError('need --frames >= 1, --threads >= 1 and --temporal-smoothing >= 0')
    torch.set_num_threads(args.threads)
    enhancer = Enhancer(args.weights, fast=True)
    print(f'{args.weights}, CPU, {args.threads} threads, {args.frames} frames at {FPS} fps, temporal smoothing '
          f'{args.temporal_smoothing:g} s')
    print('size        frames/s  time enhancing')
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            rate, enhancing = frames_per_second(size, enhancer, args, folder)
            print(f'{size[0]}x{size[1]:<8} {rate:9.2f}  {100 * enhancing:13.0f}%')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--weights', default=SHIPPED_WEIGHTS, help='the generator (default: the shipped weights)')
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--temporal-smoothing', type=float, default=DEFAULT_TIME_CONSTANT, metavar='SECONDS')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    args = parser.parse_args(argv)
    run_cli('benchmark_video.py', lambda: benchmark(args))


if __name__ == '__main__':
    main()
