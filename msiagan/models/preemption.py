"""Preemption: SIGTERM or SIGUSR1 ends training after the current step with a saved state, for --auto_resume.

Clusters send SIGTERM (Slurm before its kill, Kubernetes and spot machines on eviction, torchrun to each worker) or
SIGUSR1 (Slurm's ``--signal``), then kill after a grace period. ``handle_stop_signals`` (msiagan/train.py) makes
them only record a stop request; ``StopOnSignalMixin`` acts on it at the end of a training step.
"""
import shlex
import signal
import sys
from os import path as osp

import torch

from msiagan.utils.distributed import flagged_on_any_process
from msiagan.utils.errors import TrainingStopped

STOP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGTERM', 'SIGUSR1') if hasattr(signal, name))


class StopRequest:
    """The first stop signal this process received (its number), or None."""
    signal_number = None


def request_stop(signal_number, frame):
    """The handler of the stop signals: records the first; any later one (say, during the save) changes nothing."""
    if StopRequest.signal_number is None:
        StopRequest.signal_number = signal_number


def handle_stop_signals():
    """From now on the stop signals only record a stop request (they ended the process at once)."""
    for signal_number in STOP_SIGNALS:
        signal.signal(signal_number, request_stop)


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
        requested = torch.tensor([StopRequest.signal_number is not None], device=self.device)
        if not flagged_on_any_process(requested).item():
            return
        epoch = (current_iter - 1) // self.opt['iters_per_epoch']
        self.save(epoch, current_iter)
        state = osp.join(self.opt['path']['training_states'], f'{current_iter}.state')
        signal_name = (signal.Signals(StopRequest.signal_number).name if StopRequest.signal_number
                       else 'a signal to another process')
        launcher = ' (under the same launcher)' if self.opt['dist'] else ''
        raise TrainingStopped(f'stopped by {signal_name} after iteration {current_iter}; state saved to {state}; '
                              f'continue with: {continue_command()}{launcher}' if self.opt['rank'] == 0 else '')
