"""Resuming a stopped training where it stopped: the newest intact state, then the same data and randomness.

BasicSR 1.4.2's ``train_pipeline`` restarts the saved epoch from its first batch with freshly seeded random
generators, so a resumed run sees other batches, crops and flips than an uninterrupted one. Rather than
copy its training loop, msiagan.basicsr_patches.install replaces three names that ``train_pipeline`` looks up
in ``basicsr.train``: ``load_resume_state`` (also on machines without CUDA), ``EnlargedSampler`` (by
``ResumableSampler``, which can take up an epoch part-way) and ``create_train_val_dataloader`` (BasicSR's, then
the sampler is told where to take up), the first and last by those of ``ExactResume``. The states those need
are saved by msiagan.models.atomic_checkpoint.
"""
import itertools
import os
import re
from os import path as osp

import torch
from basicsr import train as basicsr_train
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.utils import check_resume

from msiagan.utils.distributed import check_same_on_every_process
from msiagan.utils.errors import InputError
from msiagan.utils.rng import set_rng_states

BASICSR_CREATE_DATALOADERS = basicsr_train.create_train_val_dataloader


def network_files(opt, current_iter):
    """The ``models/net_<x>_<iter>.pth`` files that BasicSR's check_resume loads for each ``network_<x>``."""
    return [osp.join(opt['path']['models'], f'net_{key[len("network_"):]}_{current_iter}.pth')
            for key in opt if key.startswith('network_')]


def latest_training_state(states_dir, opt=None):
    """Path of the newest ``<iter>.state`` in ``states_dir`` that loads and, given ``opt``, whose network files
    exist (BasicSR logs a failed save of a network and carries on), or None."""
    if not osp.isdir(states_dir):
        return None
    iters = sorted((int(m.group(1)) for m in map(re.compile(r'(\d+)\.state$').fullmatch, os.listdir(states_dir))
                    if m), reverse=True)
    for current_iter in iters:
        path = osp.join(states_dir, f'{current_iter}.state')
        if opt is not None and not all(map(osp.isfile, network_files(opt, current_iter))):
            continue
        try:
            state = torch.load(path, map_location='cpu', weights_only=True)
        except Exception:  # unreadable, e.g. cut short by a kill in a version without atomic saves: skip it
            continue
        if is_training_state(state):
            return path
    return None


def is_training_state(state):
    """``state`` has what BasicSR's resume reads: the iteration, epoch, optimizers and schedulers."""
    return isinstance(state, dict) and {'iter', 'epoch', 'optimizers', 'schedulers'} <= state.keys()


def load_resume_state(opt):
    """BasicSR's ``load_resume_state``, fixed to work on machines without CUDA and from any directory.

    BasicSR 1.4.2 maps the state to ``torch.cuda.current_device()`` (fails without CUDA) and looks for
    --auto_resume states under ./experiments relative to the working directory. This one loads to the CPU
    (optimizers move their state to their parameters' device) and looks in the experiment's own folder.
    """
    if opt['auto_resume']:
        latest = latest_training_state(opt['path']['training_states'], opt)
        if latest:
            opt['path']['resume_state'] = latest
    path = opt['path'].get('resume_state')
    if not path:
        return None
    if not osp.isfile(path):
        raise InputError(f'path: resume_state {path} does not exist')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # any failure to read it: truncated, not a weights file, ...
        raise InputError(f'path: resume_state {path} cannot be read ({type(error).__name__})') from None
    if not is_training_state(state):
        raise InputError(f'path: resume_state {path} is not a training state (training_states/<iter>.state)')
    missing = [name for name in network_files(opt, state['iter']) if not osp.isfile(name)]
    if missing:
        raise InputError(f"path: resume_state {path} is for iteration {state['iter']}, but {missing[0]} is missing")
    check_resume(opt, state['iter'])
    return state


class ResumableSampler(EnlargedSampler):
    """BasicSR's EnlargedSampler (the same indices, epoch by epoch) that can take up an epoch part-way.

    After ``resume_at(skip, rng_state)``, the next epoch set (``set_epoch``) starts at its ``skip``-th sample,
    and just before that epoch's first sample is loaded this process's random generators are set to
    ``rng_state`` (when not None). With the data loaded in the training process (num_worker_per_gpu: 0) the
    batches, crops and flips that follow are those of an uninterrupted run. (It waits for ``set_epoch``
    because BasicSR's CPUPrefetcher makes a loader iterator before the loop, and with loader workers that
    iterator draws indices at once.)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.resume_point = None  # (skip, rng_state) for the next epoch set
        self.epoch_start = None  # (skip, rng_state) for the next iteration over this epoch

    def resume_at(self, skip, rng_state):
        self.resume_point = (skip, rng_state)

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.epoch_start, self.resume_point = self.resume_point, None

    def __iter__(self):
        indices = super().__iter__()
        if self.epoch_start is None:
            return indices
        skip, rng_state = self.epoch_start
        self.epoch_start = None
        if rng_state is not None:
            set_rng_states(rng_state)
        return itertools.islice(indices, skip, None)


class ExactResume:
    """The replacements of ``load_resume_state`` and ``create_train_val_dataloader`` in basicsr.train."""

    def __init__(self):
        self.resumed = None  # epoch, iter and rng_states of the state resumed from

    def load_resume_state(self, opt):
        state = load_resume_state(opt)
        check_same_on_every_process(state and state['iter'], 'the iteration resumed from')
        if state:
            self.resumed = {key: state.get(key) for key in ('epoch', 'iter', 'rng_states')}
        return state

    def create_train_val_dataloader(self, opt, logger):
        train_loader, train_sampler, *others = BASICSR_CREATE_DATALOADERS(opt, logger)
        opt['iters_per_epoch'] = len(train_loader)  # for a checkpoint between epochs (msiagan.models.preemption)
        if self.resumed:
            epoch, current_iter = self.resumed['epoch'], self.resumed['iter']
            # every epoch is len(train_loader) iterations (drop_last), so this many batches of it were done
            batches_done = min(max(current_iter - epoch * len(train_loader), 0), len(train_loader))
            train_sampler.resume_at(batches_done * train_loader.batch_size, self.resumed_rng_state(opt, logger))
            logger.info(f'Resuming the data of epoch {epoch} after its first {batches_done} batches.')
        return (train_loader, train_sampler, *others)

    def resumed_rng_state(self, opt, logger):
        """This process's random generator states in the state resumed from, or None with a warning."""
        states = self.resumed['rng_states'] or []
        if len(states) == opt['world_size']:
            return states[opt['rank']]
        logger.warning(f'The training state has random generator states for {len(states)} processes, not '
                       f"{opt['world_size']}: random crops and flips will differ from an uninterrupted run.")
        return None

