"""Speed and memory of the MSIA generator: plain eager PyTorch against msiagan.inference.fast_inference (and, with
--onnx, onnxruntime running its ONNX export, msiagan.inference.onnx_export).

    python scripts/benchmarks/benchmark_speed.py                      # paper (act none) and improved (act lrelu) generators
    python scripts/benchmarks/benchmark_speed.py -opt options/x.yml --weights net_g.pth   # one trained generator
    python scripts/benchmarks/benchmark_speed.py -opt options/x.yml                       # its network, random weights
    python scripts/benchmarks/benchmark_speed.py -opt new.yml --weights new.pth --against options/test_lol.yml old.pth

Random weights unless --weights is given (speed does not depend on them). For each generator it prints:
parameters; GMAC at 600x400 and 256x256 (torch.utils.flop_counter) of eager and of the optimized path;
CPU latency at 600x400 with --threads threads, min/median/max over --runs runs that alternate between the
paths, the speed-up of the medians and the largest difference between their outputs; peak memory
(peak RSS of a fresh process that builds the generator and runs one 600x400 image, or one 3840x2160 image
in --tile tiles); and, when CUDA is available, images/s at 600x400, batch 1 and --batch, fp32/fp16/bf16.
--onnx adds onnxruntime (--threads intra-op threads) to the CPU latency runs: the generator exported to a temporary
file, timed in turn with the two PyTorch paths, its peak memory not measured. --against OPT WEIGHTS times another
generator's optimized path (e.g. the weights shipped before) against this one's in --runs runs of their own that
alternate between the two (no eager run between them), and prints their medians, the ratio, and its parameters and
GMAC.
Timings on a shared machine are noisy: compare medians from the same run.
"""
import argparse
import copy
import multiprocessing
import statistics
import tempfile
import time
from os import path as osp

import torch

import msiagan  # noqa: F401  (first: makes basicsr importable)
from basicsr.archs import build_network
from msiagan.inference import enhance_tensor, load_generator, load_network_options, tile_context
from msiagan.inference.fast_inference import optimize_for_inference
from msiagan.inference.onnx_export import export_onnx
from msiagan.inference.onnx_runtime import OnnxGenerator
from msiagan.utils.entry import run_cli
from msiagan.utils.profiling import count_gmac, count_parameters, peak_rss_mib

SIZE = (400, 600)  # H, W of a LOL-v1 image
SIZE_4K = (2160, 3840)
PATHS = ('eager', 'optimized')
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def generator_specs(args):
    """(label, network_opt, weights) of each generator to measure."""
    if args.opt:
        return [(args.opt, load_network_options(args.opt), args.weights)]
    return [(f'act {act}', {'type': 'MSIAGenerator', 'num_feat': 64, 'act': act}, None) for act in args.act]


def build(network_opt, weights, device='cpu'):
    """The generator in eval mode (seeded random weights unless ``weights``)."""
    if weights:
        return load_generator(network_opt, weights, device=device)
    torch.manual_seed(0)
    return build_network(dict(network_opt)).eval().to(device)


def model(net, path):
    return net if path == 'eager' else optimize_for_inference(net)


def onnx_generator(net, network_opt, threads):
    """``net`` exported to ONNX (a temporary file) and loaded by onnxruntime with ``threads`` intra-op threads."""
    with tempfile.TemporaryDirectory() as folder:
        export_onnx(net, osp.join(folder, 'generator.onnx'), dict(network_opt))
        return OnnxGenerator(osp.join(folder, 'generator.onnx'), threads)


def cpu_latency(models, x, runs):
    """{path: [seconds per run]}: runs alternate between the paths, so load changes hit both alike."""
    times = {path: [] for path in models}
    with torch.no_grad():
        for module in models.values():
            module(x)  # warm-up
        for _ in range(runs):
            for path, module in models.items():
                start = time.perf_counter()
                module(x)
                times[path].append(time.perf_counter() - start)
    return times


def peak_rss_child(network_opt, weights, path, size, tile, tile_pad, threads):
    """In a fresh process: (peak MiB before the image, peak MiB, seconds) of running one image of ``size``."""
    torch.set_num_threads(threads)
    module = model(build(network_opt, weights), path)
    x = torch.rand(1, 3, *size)
    before = peak_rss_mib()
    start = time.perf_counter()
    enhance_tensor(module, x, tile, tile_pad)
    seconds = time.perf_counter() - start
    return before, peak_rss_mib(), seconds


def peak_rss(*args):
    """``peak_rss_child(*args)`` run in a new process."""
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        return pool.apply(peak_rss_child, args)


def gpu_images_per_second(net, path, dtype, batch, device='cuda', seconds=3.0):
    """(images/s, peak MiB allocated, max |output - fp32 eager output|) of ``path`` at 600x400 on ``device``."""
    module = copy.deepcopy(model(net, path)).to(dtype)  # the optimized path folds in fp32 (float64) first
    x = torch.rand(batch, 3, *SIZE, device=device)
    x_typed = x.to(dtype)
    with torch.no_grad():
        difference = (module(x_typed).float() - net(x)).abs().max().item()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(3):
            module(x_typed)
        torch.cuda.synchronize()
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            module(x_typed)
            runs += 1
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    return runs * batch / elapsed, torch.cuda.max_memory_allocated() / 2**20, difference


def report_generator(label, network_opt, weights, args):
    net = build(network_opt, weights)
    params = count_parameters(net)
    start = time.perf_counter()
    models = {path: model(net, path) for path in PATHS}
    build_seconds = time.perf_counter() - start
    print(f'\n## {label}: {network_opt}\nparameters {params:,}; optimized path built in {build_seconds:.2f} s')
    with torch.no_grad():
        for path, module in models.items():
            print(f'GMAC {path:9s}: {count_gmac(module, *SIZE):6.2f} at {SIZE[1]}x{SIZE[0]}, '
                  f'{count_gmac(module, 256, 256):5.2f} at 256x256')
        x = torch.rand(1, 3, *SIZE)
        difference = (models['optimized'](x) - models['eager'](x)).abs().max().item()
        timed = dict(models)
        if args.onnx:
            timed['onnxruntime'] = onnx_generator(net, network_opt, args.threads)
            onnx_difference = (timed['onnxruntime'](x) - models['eager'](x)).abs().max().item()
    times = cpu_latency(timed, x, args.runs)
    medians = {path: statistics.median(t) for path, t in times.items()}
    print(f'\nCPU, threads {args.threads}, {SIZE[1]}x{SIZE[0]}, {args.runs} runs each:')
    print('| path | min s | median s | max s | peak RSS MiB (before the image) |')
    print('| --- | --- | --- | --- | --- |')
    for path, t in times.items():
        memory = '-'
        if path in models:
            before, peak, _ = peak_rss(network_opt, weights, path, SIZE, 0, 0, args.threads)
            memory = f'{peak:.0f} ({before:.0f})'
        print(f'| {path} | {min(t):.3f} | {medians[path]:.3f} | {max(t):.3f} | {memory} |')
    print(f'speed-up of the medians {medians["eager"] / medians["optimized"]:.2f}x; '
          f'max |optimized - eager| {difference:.2e}')
    if args.onnx:
        print(f'onnxruntime: {medians["eager"] / medians["onnxruntime"]:.2f}x eager\'s speed, '
              f'{medians["optimized"] / medians["onnxruntime"]:.2f}x the optimized path\'s; '
              f'max |onnxruntime - eager| {onnx_difference:.2e}')
    if args.against:
        report_against(models['optimized'], x, args)
    for path in PATHS if args.eager_4k else ('optimized',):
        before, peak, seconds = peak_rss(network_opt, weights, path, SIZE_4K, args.tile, args.tile_pad, args.threads)
        tiles = f'tile {args.tile} pad {tile_context(net, args.tile_pad)}' if args.tile else 'whole'
        print(f'{SIZE_4K[1]}x{SIZE_4K[0]} on the CPU, {path}, {tiles}: '
              f'peak RSS {peak:.0f} MiB ({peak / 1024:.2f} GiB; {before:.0f} before the image), {seconds:.1f} s')
    if torch.cuda.is_available():
        report_gpu(net.cuda(), args.batch)
    else:
        print('GPU: CUDA not available, skipped')


def report_against(optimized, x, args):
    """The optimized path against --against's, in runs that alternate between the two only."""
    other_opt = load_network_options(args.against[0])
    other = build(other_opt, args.against[1])
    against = model(other, 'optimized')
    print(f'\nagainst: {args.against[0]} {args.against[1]}: {other_opt}; parameters {count_parameters(other):,}; '
          f'GMAC optimized {count_gmac(against, *SIZE):.2f} at {SIZE[1]}x{SIZE[0]}')
    times = cpu_latency({'optimized': optimized, 'against': against}, x, args.runs)
    medians = {path: statistics.median(t) for path, t in times.items()}
    print(f'optimized {medians["optimized"]:.3f} s, against {medians["against"]:.3f} s (medians of {args.runs} '
          f'alternating runs): {medians["optimized"] / medians["against"]:.3f}x the time of --against\'s')


def report_gpu(net, batch):
    torch.backends.cudnn.benchmark = True
    print(f'\nGPU {torch.cuda.get_device_name()}, {SIZE[1]}x{SIZE[0]}: images/s, peak MiB allocated, '
          'max |output - fp32 eager output|')
    print(f'| path | dtype | batch 1 | batch {batch} |')
    print('| --- | --- | --- | --- |')
    for path in PATHS:
        for name, dtype in DTYPES.items():
            cells = [gpu_images_per_second(net, path, dtype, size) for size in (1, batch)]
            print(f'| {path} | {name} | '
                  + ' | '.join(f'{ips:.1f}/s, {mib:.0f} MiB, {diff:.1e}' for ips, mib, diff in cells) + ' |')


def benchmark():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', help='options file whose network_g to measure (random weights without --weights)')
    parser.add_argument('--weights', help='generator weights (BasicSR checkpoint or state dict)')
    parser.add_argument('--act', nargs='+', default=['none', 'lrelu'], help='variants to measure without -opt')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads')
    parser.add_argument('--runs', type=int, default=10, help='timed CPU runs of each path')
    parser.add_argument('--tile', type=int, default=512, help='tile size for the 3840x2160 image')
    parser.add_argument('--tile-pad', type=int,
                        help="pixels of context around each tile (default: the generator's receptive_radius, as "
                             'msiagan-enhance)')
    parser.add_argument('--onnx', action='store_true',
                        help="also time onnxruntime on the generator's ONNX export (pip install 'msiagan[onnx]')")
    parser.add_argument('--against', nargs=2, metavar=('OPT', 'WEIGHTS'),
                        help="another generator's options file and weights: its optimized path timed beside")
    parser.add_argument('--eager-4k', action='store_true', help='also measure eager on the 3840x2160 image (slow)')
    parser.add_argument('--batch', type=int, default=8, help='GPU batch size besides 1')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args()
    if args.weights and not args.opt:
        parser.error('--weights needs -opt, the options file of the network they fit')
    for name in ('threads', 'runs', 'batch'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} {getattr(args, name)}: must be at least 1')
    if args.tile < 0 or (args.tile_pad or 0) < 0:
        parser.error('--tile and --tile-pad take 0 or more pixels')
    torch.set_num_threads(args.threads)
    for label, network_opt, weights in generator_specs(args):
        report_generator(label, network_opt, weights, args)


if __name__ == '__main__':
    run_cli('benchmark_speed.py', benchmark)
