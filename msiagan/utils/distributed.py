"""The process group of a distributed run: leaving it, and what the processes agree on."""
import torch
import torch.distributed as dist

from msiagan.utils.errors import InputError


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
