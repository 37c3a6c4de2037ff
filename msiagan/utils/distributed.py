"""Distributed data parallel training through BasicSR's launchers: NCCL on GPUs, gloo on CPU-only machines.

BasicSR 1.4.2 assumes CUDA twice: its ``init_dist`` calls ``torch.cuda.set_device`` and defaults to NCCL, and
``BaseModel.model_to_device`` gives DistributedDataParallel ``device_ids=[torch.cuda.current_device()]``.
``use_cpu_capable_init_dist`` replaces the first where BasicSR's option parser calls it, and
``DistributedModelMixin`` the second in our model.
"""
import os
import subprocess

import torch
import torch.distributed as dist
from basicsr.utils import options as basicsr_options
from torch.nn.parallel import DistributedDataParallel

from msiagan.utils.compat import replace_attribute
from msiagan.utils.errors import InputError

DEFAULT_MASTER_PORT = 29500  # torch.distributed's


def slurm_environment(port=None, environ=os.environ):
    """The ``env://`` variables torch.distributed reads, from those of a Slurm task started by srun.

    MASTER_ADDR is the first node of the job, MASTER_PORT ``port``, else $MASTER_PORT, else 29500.
    Returns a dict of str: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK.
    """
    missing = [name for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NODELIST')
               if name not in environ]
    if missing:
        raise InputError(f'--launcher slurm: ${missing[0]} is not set (start the processes with srun)')
    hosts = subprocess.run(['scontrol', 'show', 'hostnames', environ['SLURM_NODELIST']], capture_output=True,
                           text=True, check=True).stdout.split()
    return {
        'MASTER_ADDR': hosts[0],
        'MASTER_PORT': str(port or environ.get('MASTER_PORT', DEFAULT_MASTER_PORT)),
        'WORLD_SIZE': environ['SLURM_NTASKS'],
        'RANK': environ['SLURM_PROCID'],
        'LOCAL_RANK': environ['SLURM_LOCALID'],
    }


def init_dist(launcher, backend=None, port=None):
    """Join the process group of a torchrun (``launcher='pytorch'``) or srun (``'slurm'``) job.

    Args:
        launcher (str): 'pytorch' (torchrun set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*) or 'slurm'.
        backend (str | None): None: 'nccl' where CUDA is available (each process on GPU $LOCAL_RANK modulo
            the GPUs it sees, for schedulers that give each process its own), else 'gloo'. With --launcher
            slurm it can be set by ``dist_params: backend`` in the options file.
        port (int | None): Master port for --launcher slurm (``dist_params: port``).
    """
    if launcher == 'slurm':
        os.environ.update(slurm_environment(port))
    backend = backend or ('nccl' if torch.cuda.is_available() else 'gloo')
    if backend == 'nccl':
        if torch.cuda.device_count() == 0:
            raise InputError('dist_params: backend nccl needs CUDA GPUs and this process sees none: use gloo, or '
                             'leave backend unset')
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend)


def use_cpu_capable_init_dist():
    """Make BasicSR's option parser (``parse_options``, behind --launcher) call our ``init_dist``."""
    replace_attribute(basicsr_options, 'init_dist', init_dist)


def leave_process_group():
    """Destroy the process group of a distributed run, if there is one, before the process exits: one left to the
    interpreter's teardown can abort a process ('terminate called without an active exception')."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def flagged_on_any_process(flags):
    """``flags`` (a 1-D bool tensor) OR-ed over all processes of the job (itself without one)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flags
    flags = flags.to(torch.uint8)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return flags.bool()


def check_same_on_every_process(value, what):
    """Raise InputError on every process unless all processes of the job have the same ``value``."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    if any(other != values[0] for other in values):
        raise InputError(f'{what} differs between the processes: {values} (by rank); on several machines, put '
                         'experiments/ on storage they all share (MSIAGAN_ROOT)')


class DistributedModelMixin:
    """For a BasicSR model: DistributedDataParallel on the CPU too (BasicSR's needs a CUDA device)."""

    def model_to_device(self, net):
        if not (self.opt['dist'] and self.device.type == 'cpu'):
            return super().model_to_device(net)
        if dist.get_backend() == 'nccl':
            raise InputError('num_gpu: 0 with a distributed launcher on a machine with CUDA: set num_gpu, or '
                             'hide the GPUs with CUDA_VISIBLE_DEVICES= to train on the CPUs')
        return DistributedDataParallel(net.to(self.device),
                                       find_unused_parameters=self.opt.get('find_unused_parameters', False))

    def dist_validation(self, *args, **kwargs):
        """BasicSR's (process 0 validates alone), on the bare generator: wrapped in DistributedDataParallel, a
        generator with buffers (BatchNorm) would wait in its forward for the other processes to share them."""
        net_g, self.net_g = self.net_g, self.get_bare_model(self.net_g)
        try:
            super().dist_validation(*args, **kwargs)
        finally:
            self.net_g = net_g
