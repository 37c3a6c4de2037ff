"""Training speed: BasicSR's plain path against the fast path, the same model on the same data, in one run.

    python scripts/benchmarks/benchmark_train.py -opt options/lol_gan.yml --force_yml train:generator_chunk=1   # CPU, 2 threads
    python scripts/benchmarks/benchmark_train.py -opt options/lol_gan.yml --device cuda --iters 50
    python scripts/benchmarks/benchmark_train.py -opt options/demo.yml --force_yml datasets:train:dataroot_lq=...
    python scripts/benchmarks/benchmark_train.py -opt options/train/exposure_lol.yml \
        --against datasets:train:exposure_synthesis=~   # the fast path with and without a change, alternating

The plain path is the options as they are with every fast option off: BasicSR's DataLoader decoding the files in its
num_worker_per_gpu workers, float32, no channels_last, no torch.compile. The fast path is the same options with the
training split held decoded (``cache: memory``, or ``device`` on a GPU) and no loader workers, ``channels_last``
(--channels-last; default on), ``mixed_precision`` (--precision; default: the options' own, float32 where they set
none; auto: bf16 where the device computes it natively, float32 elsewhere; docs/speed.md), ``compile`` (--compile;
default on a GPU) and ``generator_chunk`` (the options' own: on a CPU, --force_yml train:generator_chunk=1 for large
crops, docs/speed.md). Each path runs in a fresh process: --warmup iterations, then --iters timed ones, fed as
BasicSR's trainer feeds them. For each it prints megapixels of training (crops times their pixels) per second,
iterations per second, the share of the time spent waiting for data and the peak memory (CUDA: peak allocated; CPU:
peak RSS of the training process, loader workers not counted); the last line is ``plain P Mpx/s, fast F Mpx/s,
speed-up Rx``. The first lines name the machine: the CPU model with its bf16 and AMX flags (or the GPU) and the
precision chosen, with why. Building the datasets (for the fast path: decoding the split) is not timed. On a shared
machine, compare figures from the same run.

--against KEY=VALUE ... measures the fast path of the options as they are against the fast path with those changes
(as --force_yml writes them), alternating --rounds times in fresh processes; the last line is the ratio of their
mean seconds an iteration.
"""
import argparse
import copy
import logging
import multiprocessing
import sys
import time
from os import path as osp

import torch

import msiagan  # noqa: F401  (first: makes basicsr importable, registers everything)
from basicsr.data import build_dataset
from basicsr.models import build_model
from basicsr.utils import get_root_logger, set_random_seed

from msiagan.models.fast_training import BF16_CPU_FLAGS, resolve_auto_precision
from msiagan.utils.entry import run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.options_check import OptionsCheck, load_options
from msiagan.utils.profiling import peak_rss_mib

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_data import endless, training_loader  # noqa: E402

PATHS = ('plain', 'fast')


def path_options(opt, path, device, precision, compile_networks, channels_last=True):
    """The options of one path: ``opt`` with the fast options off ('plain') or on ('fast'), on ``device``."""
    opt = copy.deepcopy(opt)
    opt.update(num_gpu=1 if device == 'cuda' else 0, dist=False, rank=0, world_size=1, is_train=True)
    train_set = opt['datasets']['train']
    train_set.update(phase='train', scale=opt.get('scale', 1))
    if path == 'plain':
        train_set['cache'] = None
        opt['train'].update(channels_last=False, mixed_precision=None, compile=False, generator_chunk=None)
    else:
        train_set.update(cache='device' if device == 'cuda' else 'memory', num_worker_per_gpu=0, prefetch_mode=None,
                         pin_memory=False)
        opt['train'].update(channels_last=channels_last, mixed_precision=precision,
                            compile=compile_networks, generator_chunk=opt['train'].get('generator_chunk'))
    return opt


def fast_settings(opt):
    """One line naming the fast options of ``opt``."""
    train = opt['train']
    layout = 'channels_last' if train['channels_last'] else 'no channels_last'
    return (f"cache {opt['datasets']['train']['cache']}, 0 workers, {layout}, "
            f"{train['mixed_precision'] or 'fp32'}, compile {'on' if train['compile'] else 'off'}, "
            f"generator_chunk {train['generator_chunk'] or '~'}")


def measure(opt, warmup, iters, threads):
    """Train ``warmup`` then ``iters`` timed iterations; a dict of the figures (see the module docstring)."""
    torch.set_num_threads(threads)
    get_root_logger(log_level=logging.WARNING)
    set_random_seed(opt.get('manual_seed', 0))
    dataset_opt = opt['datasets']['train']
    stream = endless(training_loader(build_dataset(dataset_opt), dataset_opt, opt.get('manual_seed', 0)))
    model = build_model(opt)
    cuda = model.device.type == 'cuda'
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    waited = total = 0.0
    pixels = 0
    for current_iter in range(1, warmup + iters + 1):
        start = time.perf_counter()
        batch = next(stream)
        fed = time.perf_counter()
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        if cuda:
            torch.cuda.synchronize()
        if current_iter > warmup:
            waited, total = waited + fed - start, total + time.perf_counter() - start
            pixels += batch['gt'][:, 0].numel()
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mib()
    return dict(mpx_per_s=pixels / 1e6 / total, it_per_s=iters / total, waiting=waited / total, peak_mib=peak,
                crops=f"{len(batch['gt'])} x {batch['gt'].shape[-1]}x{batch['gt'].shape[-2]}")


def measure_child(connection, *args):
    try:
        connection.send(measure(*args))
    except InputError as error:
        connection.send(error)


def measure_in_new_process(*args):
    """``measure(*args)`` in a fresh process (its own peak memory; loader workers allowed)."""
    receiver, sender = multiprocessing.get_context('spawn').Pipe(duplex=False)
    process = multiprocessing.get_context('spawn').Process(target=measure_child, args=(sender, *args))
    process.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:
        result = None
    process.join()
    if isinstance(result, InputError):
        raise result
    if result is None:
        raise InputError(f'the measuring process ended with exit status {process.exitcode}')
    return result


def cpu_line():
    """'CPU: <model>, <cores> cores; bf16 and AMX flags: avx512_bf16 yes, amx_bf16 no, amx_tile no'."""
    capabilities = torch.cpu.get_capabilities()
    flags = ', '.join(f"{flag} {'yes' if capabilities.get(flag) else 'no'}"
                      for flag in (*BF16_CPU_FLAGS, 'amx_tile'))
    return (f"CPU: {capabilities.get('cpu_name') or 'unknown'}, {capabilities.get('num_physical_cores', '?')} cores, "
            f"ATen kernels {torch.backends.cpu.get_cpu_capability()}; bf16 and AMX flags: {flags}")


def benchmark(args):
    if args.iters < 1 or args.warmup < 0 or args.threads < 1 or args.rounds < 1:
        raise InputError('--iters, --threads and --rounds must be at least 1, --warmup at least 0')
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise InputError('--device cuda: CUDA is not available on this machine')
    force = ['--force_yml', *args.force_yml] if args.force_yml else []
    opt, source = load_options(['-opt', args.opt, *force])
    OptionsCheck(source, is_train=True).check(opt)
    asked = args.precision or opt['train'].get('mixed_precision') or 'fp32'
    if asked == 'auto':
        precision, reason = resolve_auto_precision(torch.device(args.device))
        chosen = f"auto -> {precision or 'fp32'} ({reason})"
    else:
        precision = None if asked == 'fp32' else asked
        chosen = f"{asked} ({'--precision' if args.precision else 'the options'})"
    compile_networks = args.device == 'cuda' if args.compile is None else args.compile == 'on'
    machine = torch.cuda.get_device_name() if args.device == 'cuda' else f'CPU, {args.threads} threads'
    print(f'{source} on {machine}: {args.warmup} warm-up + {args.iters} timed iterations per path')
    print(cpu_line())
    print(f'fast path precision: {chosen}')
    if args.against:
        compare_changes(opt, args, precision, compile_networks)
        return
    speeds = {}
    for path in PATHS:
        opt_path = path_options(opt, path, args.device, precision, compile_networks, args.channels_last == 'on')
        result = measure_in_new_process(opt_path, args.warmup, args.iters, args.threads)
        settings = (fast_settings(opt_path) if path == 'fast'
                    else f"files, {opt_path['datasets']['train']['num_worker_per_gpu']} workers, fp32")
        print(f"{path} ({settings}): {result['crops']} a batch, {result['mpx_per_s']:.3f} Mpx/s, "
              f"{result['it_per_s']:.3f} it/s, {100 * result['waiting']:.1f}% waiting for data, "
              f"peak memory {result['peak_mib']:.0f} MiB")
        speeds[path] = result['mpx_per_s']
    print(f"plain {speeds['plain']:.2f} Mpx/s, fast {speeds['fast']:.2f} Mpx/s, "
          f"speed-up {speeds['fast'] / speeds['plain']:.2f}x")


def compare_changes(opt, args, precision, compile_networks):
    """The fast path of ``opt`` against the same with ``args.against``'s changes, alternating; prints both."""
    changed, source = load_options(['-opt', args.opt, '--force_yml', *args.force_yml, *args.against])
    OptionsCheck(source, is_train=True).check(changed)
    variants = {'as given': opt, 'changed': changed}
    seconds = {name: [] for name in variants}
    for round_index in range(args.rounds):
        for name, variant in variants.items():
            opt_path = path_options(variant, 'fast', args.device, precision, compile_networks,
                                    args.channels_last == 'on')
            result = measure_in_new_process(opt_path, args.warmup, args.iters, args.threads)
            seconds[name].append(1 / result['it_per_s'])
            print(f"round {round_index + 1}, {name}: {result['crops']} a batch, {seconds[name][-1]:.3f} s/it, "
                  f"{100 * result['waiting']:.1f}% waiting for data")
    mean = {name: sum(values) / len(values) for name, values in seconds.items()}
    print(f"as given {mean['as given']:.3f} s/it, changed ({' '.join(args.against)}) {mean['changed']:.3f} s/it: "
          f"as given takes {mean['as given'] / mean['changed']:.3f}x the time")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, help='training options file')
    parser.add_argument('--force_yml', nargs='+', default=[], help='key:key=value changes, as msiagan/train.py takes')
    parser.add_argument('--against', nargs='+', default=[], metavar='KEY=VALUE',
                        help='measure the fast path with and without these changes instead of plain against fast')
    parser.add_argument('--rounds', type=int, default=2, help='--against: alternations (default: 2)')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='default: cuda when available')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads of the training process (default: 2)')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations per path (default: 5)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first (default: 2)')
    parser.add_argument('--precision', choices=('auto', 'fp32', 'bf16', 'fp16'),
                        help="fast path precision (default: the options' own, fp32 where they set none; auto: bf16 "
                             "where the device computes it natively, fp32 elsewhere)")
    parser.add_argument('--compile', choices=('on', 'off'), help='fast path torch.compile (default: on a GPU)')
    parser.add_argument('--channels-last', choices=('on', 'off'), default='on', help='fast path channels_last '
                        '(default: on)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    run_cli('benchmark_train.py', lambda: benchmark(args))


if __name__ == '__main__':
    main()
