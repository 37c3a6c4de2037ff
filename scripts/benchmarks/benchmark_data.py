"""Data loading speed: pairs/s from disk and from LMDB at the training crop size, and the share of a CPU
training iteration spent waiting for data.

    python scripts/benchmarks/benchmark_data.py -opt options/lol_gan.yml --workers 2

Both loaders are BasicSR's training DataLoader over the options' training dataset (crop size, flips and
rotations, batch size, meta_info_file), read from the folders of --disk and from the LMDBs of --lmdb (made by
scripts/data_preparation/create_lmdb.py); a loader is timed over --batches batches after its first one (which starts the
workers). The training figure builds the options' model on the CPU and times --iters iterations after a
warm-up one, fed as BasicSR's trainer feeds it (prefetch_mode: ~): the wait is the time spent getting the
next batch, the iteration that wait plus feed_data and optimize_parameters.
"""
import argparse
import logging
import time
from os import path as osp

import msiagan  # noqa: F401  (first: makes basicsr importable, registers everything)
from basicsr.data import build_dataloader, build_dataset
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.models import build_model
from basicsr.utils import get_root_logger

from msiagan.utils.entry import run_cli
from msiagan.utils.options_check import OptionsCheck, load_options


def training_loader(dataset, dataset_opt, seed):
    """BasicSR's training DataLoader for ``dataset``, as its trainer builds it on one process."""
    sampler = EnlargedSampler(dataset, 1, 0, dataset_opt.get('dataset_enlarge_ratio', 1))
    return build_dataloader(dataset, dataset_opt, num_gpu=0, dist=False, sampler=sampler, seed=seed)


def endless(loader):
    """Batches of ``loader``, epoch after epoch."""
    while True:
        yield from loader


def pairs_per_second(loader, batches):
    """Pairs per second delivered by ``loader`` over ``batches`` batches, after its first one."""
    stream = endless(loader)
    next(stream)
    start, pairs = time.perf_counter(), 0
    for _ in range(batches):
        pairs += len(next(stream)['lq'])
    return pairs / (time.perf_counter() - start)


def training_times(opt, loader, iters):
    """(seconds per training iteration, seconds of it spent waiting for data), averaged over ``iters``."""
    model = build_model(opt)
    stream = endless(loader)
    model.feed_data(next(stream))
    model.optimize_parameters(1)  # warm-up
    waited = total = 0.0
    for current_iter in range(2, iters + 2):
        start = time.perf_counter()
        batch = next(stream)
        fed = time.perf_counter()
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        waited, total = waited + fed - start, total + time.perf_counter() - start
    return total / iters, waited / iters


def benchmark(args):
    opt, source = load_options(['-opt', args.opt])
    OptionsCheck(source, is_train=True).check(opt)
    opt.update(num_gpu=0, dist=False, rank=0, world_size=1, is_train=True)
    dataset_opt = dict(opt['datasets']['train'], phase='train', scale=opt.get('scale', 1))
    if args.workers is not None:
        dataset_opt['num_worker_per_gpu'] = args.workers
    lmdb_paths = args.lmdb or [osp.normpath(path) + '.lmdb' for path in args.disk]
    sources = {'disk': args.disk, 'lmdb': lmdb_paths}
    print(f"{source}: crops {dataset_opt.get('gt_size')}, batch {dataset_opt['batch_size_per_gpu']}, "
          f"{dataset_opt['num_worker_per_gpu']} workers")
    loaders = {}
    for backend, (lq, gt) in sources.items():
        dataset = build_dataset(dict(dataset_opt, dataroot_lq=lq, dataroot_gt=gt, io_backend={'type': backend}))
        loaders[backend] = training_loader(dataset, dataset_opt, opt['manual_seed'])
        speed = pairs_per_second(loaders[backend], args.batches)
        print(f'{backend}: {lq} + {gt}, {len(dataset)} pairs: {speed:.1f} pairs/s ({args.batches} batches)')
    if args.iters:
        iteration, waited = training_times(opt, loaders[args.train_backend], args.iters)
        print(f'training on the CPU from {args.train_backend}: {iteration:.3f} s per iteration, of which '
              f'{waited:.4f} s waiting for data ({100 * waited / iteration:.2f}%; {args.iters} iterations)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', default='options/lol_gan.yml', help='training options (default: %(default)s)')
    parser.add_argument('--disk', nargs=2, metavar=('LQ', 'GT'), default=['datasets/LOL-v1/our485/low',
                                                                          'datasets/LOL-v1/our485/high'],
                        help='input and reference folders (default: %(default)s)')
    parser.add_argument('--lmdb', nargs=2, metavar=('LQ', 'GT'), help='their LMDBs (default: <folder>.lmdb)')
    parser.add_argument('--workers', type=int, help="loader processes (default: the options' num_worker_per_gpu)")
    parser.add_argument('--batches', type=int, default=30, help='batches timed per backend (default: %(default)s)')
    parser.add_argument('--iters', type=int, default=3, help='training iterations timed, 0: none (default: 3)')
    parser.add_argument('--train-backend', choices=('disk', 'lmdb'), default='disk',
                        help='what feeds the training iterations (default: %(default)s)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    args = parser.parse_args(argv)
    get_root_logger(log_level=logging.WARNING)  # BasicSR's building messages are not the figures
    run_cli('benchmark_data.py', lambda: benchmark(args))


if __name__ == '__main__':
    main()
