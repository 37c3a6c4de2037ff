"""The signals that ask a training to stop (preemption), recorded rather than obeyed at once.

Clusters send SIGTERM (Slurm before its kill, Kubernetes and spot machines on eviction, torchrun to each worker) or
SIGUSR1 (Slurm's ``--signal``), then kill after a grace period. msiagan.models.preemption acts on the request.
"""
import signal

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


def ignore_stop_signals():
    """Stop signals do nothing in this process from now on, also while the interpreter exits (a handler would be
    undone then): a training that is stopping, or a data loader worker (the training process ends it)."""
    for signal_number in STOP_SIGNALS:
        signal.signal(signal_number, signal.SIG_IGN)
