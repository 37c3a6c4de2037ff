"""Preemption: SIGTERM or SIGUSR1 ends training after the current step with a saved state, for --auto_resume.

msiagan/train.py makes those signals only record a stop request (msiagan.utils.stop_signals); ``StopOnSignalMixin``
acts on it at the end of a training step.
"""
import shlex
import signal
import sys
from os import path as osp

import torch
from torch import distributed as dist

from msiagan.utils.distributed import flagged_on_any_process
from msiagan.utils.errors import TrainingStopped
from msiagan.utils.stop_signals import StopRequest, ignore_stop_signals


def continue_command():
    """The command line of this run with --auto_resume, to print."""
    args = [arg for arg in sys.argv[1:] if arg != '--auto_resume']
    program = sys.argv[0] if sys.argv[0].endswith('.py') else osp.basename(sys.argv[0])
    return shlex.join([*(['python'] if program.endswith('.py') else []), program, *args, '--auto_resume'])


class StopOnSignalMixin:
    """For a BasicSR model: ``stop_if_signalled(current_iter)``, called at the end of each training step, saves a
    checkpoint of that iteration (as the regular ones: networks and training state, atomically) and raises
    TrainingStopped once a stop signal came to any process. The processes of a distributed run agree on it
    every step (one all_reduce), so all stop after the same iteration and write one state.

    The epoch saved is that of BasicSR's loop, where each epoch is ``opt['iters_per_epoch']`` iterations (set by
    msiagan.basicsr_patches.resume, which takes up a resumed epoch on the same count).
    """

    def stop_if_signalled(self, current_iter):
        requested = StopRequest.signal_number is not None
        if dist.is_available() and dist.is_initialized():  # one process alone reads its flag: no device sync
            requested = bool(flagged_on_any_process(torch.tensor([requested], device=self.device)).item())
        if not requested:
            return
        ignore_stop_signals()  # from here to the exit, in every process (torchrun signals those still running)
        epoch = (current_iter - 1) // self.opt['iters_per_epoch']
        self.save(epoch, current_iter)
        state = osp.join(self.opt['path']['training_states'], f'{current_iter}.state')
        signal_name = (signal.Signals(StopRequest.signal_number).name if StopRequest.signal_number
                       else 'a signal to another process')
        launcher = ' (under the same launcher)' if self.opt['dist'] else ''
        raise TrainingStopped(f'stopped by {signal_name} after iteration {current_iter}; state saved to {state}; '
                              f'continue with: {continue_command()}{launcher}' if self.opt['rank'] == 0 else '')
