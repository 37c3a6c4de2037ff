"""What exposure handling costs: msiagan-enhance's default path against the generator alone (--network-only).

    python scripts/benchmarks/benchmark_exposure.py                       # the shipped weights, 2 threads
    python scripts/benchmarks/benchmark_exposure.py --weights W.pth --runs 20

Both paths are Enhancer(fast=True) on the CPU, as msiagan-enhance runs them, in one process, on 600x400 images:
a dark one (linear mean within the training range: only the input's statistics are added) and a well-exposed one
(its statistics, and the output's exposure set by a search on its pixels). For each image it prints the median
and the spread (min to max) of --runs runs of each path, the runs alternating between the paths, and the ratio
of the medians. Timings on a shared machine are noisy: compare the ratio, measured side by side.
"""
import argparse
import statistics
import time

import numpy as np
import torch

import msiagan  # noqa: F401  (first: makes basicsr importable)
from msiagan.inference import Enhancer
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.weights import SHIPPED_WEIGHTS

SIZE = (400, 600)  # H, W of a LOL-v1 image
LEVELS = {'dark': 0.003, 'well-exposed': 0.2}  # linear means of the two test images


def test_image(level, seed=0):
    """(1, 3, H, W) sRGB in [0, 1]: smooth random shapes at linear mean about ``level``, with fine noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (3, SIZE[0] // 40, SIZE[1] // 40))
    smooth = torch.nn.functional.interpolate(torch.from_numpy(coarse)[None], size=SIZE, mode='bicubic')[0].numpy()
    linear = np.clip(smooth + rng.normal(0, 0.02, smooth.shape), 0, 1) ** 2.2
    linear *= level / linear.mean()
    return torch.from_numpy(np.clip(linear, 0, 1) ** (1 / 2.2)).float()[None]


def benchmark(args):
    if args.runs < 1 or args.threads < 1:
        raise InputError('--runs and --threads must be at least 1')
    torch.set_num_threads(args.threads)
    paths = {'default': Enhancer(args.weights, fast=True),
             '--network-only': Enhancer(args.weights, fast=True, exposure_handling=False)}
    if paths['default'].exposure_handling != 'on':
        raise InputError(f'--weights {args.weights}: no exposure_range beside it, so there is nothing to measure')
    print(f'{args.weights}, CPU, {args.threads} threads, {SIZE[1]}x{SIZE[0]}, {args.runs} alternating runs each')
    for name, level in LEVELS.items():
        x = test_image(level)
        for enhancer in paths.values():  # warm-up
            enhancer.enhance_tensor(x)
        seconds = {path: [] for path in paths}
        for _ in range(args.runs):
            for path, enhancer in paths.items():
                start = time.perf_counter()
                enhancer.enhance_tensor(x)
                seconds[path].append(time.perf_counter() - start)
        medians = {path: statistics.median(times) for path, times in seconds.items()}
        cells = ', '.join(f'{path} {1000 * medians[path]:.0f} ms ({1000 * min(times):.0f} to {1000 * max(times):.0f})'
                          for path, times in seconds.items())
        print(f"{name} image: {cells}; default / --network-only {medians['default'] / medians['--network-only']:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--weights', default=SHIPPED_WEIGHTS, help='generator weights with an exposure_range beside '
                        'them (default: the shipped LOL-v1 weights)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (default: 2)')
    parser.add_argument('--runs', type=int, default=10, help='timed runs of each path (default: 10)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('benchmark_exposure.py', lambda: benchmark(args))


if __name__ == '__main__':
    main()
