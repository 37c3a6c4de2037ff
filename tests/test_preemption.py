"""Preemption: SIGTERM or SIGUSR1 saves after the current step and exits 75; --auto_resume then goes on bit for bit,
in one process and in two (gloo)."""
import os
import re
import signal
import pytest
import torch
import yaml
from conftest import (feed, finished_output, make_model, resumable_options, saved_networks, signalled_after_first_state,
                      start_training, wait_for_first_state, write_options)

from msiagan.utils.errors import TrainingStopped
from msiagan.utils.stop_signals import StopRequest, handle_stop_signals

# long enough that the signal, sent once the first state is on disk, comes well before the end (~25 ms a step; with
# 12 steps, the first run in a fresh clone sometimes ended first, and the test skipped)
TOTAL_ITER = 40
STOP_LINE = re.compile(r'msiagan-train: stopped by (.+) after iteration (\d+); state saved to (\S+\.state); continue '
                       r'with: python \S+/msiagan/train\.py -opt (\S+)( --launcher pytorch)? --auto_resume'
                       r'( \(under the same launcher\))?')
TORCHRUN = ('-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2')


@pytest.fixture(scope='module')
def stopped_and_resumed(tmp_path_factory):
    """An uninterrupted run, and the same run sent SIGUSR1 then SIGTERM after its first saved state, then resumed
    with --auto_resume. Returns (root, the stopped run's exit status and output, the resumed run's output)."""
    root = tmp_path_factory.mktemp('preempted')
    uninterrupted = start_training(root, resumable_options(root, 'uninterrupted', TOTAL_ITER))
    options = resumable_options(root, 'stopped', TOTAL_ITER)
    stopped, stopped_output = signalled_after_first_state(root, options, signal.SIGUSR1, signal.SIGTERM)
    resumed = start_training(root, options, (), '--auto_resume')
    resumed_output = finished_output(resumed)
    assert resumed.returncode == 0, resumed_output[-3000:]
    output = finished_output(uninterrupted)
    assert uninterrupted.returncode == 0, output[-3000:]
    return root, stopped.returncode, stopped_output, resumed_output


def test_a_signal_saves_the_step_and_exits_75_with_one_line(stopped_and_resumed):
    root, status, output, _ = stopped_and_resumed
    assert status == 75 and 'Traceback' not in output, output[-3000:]
    match = STOP_LINE.fullmatch(output.splitlines()[-1])
    assert match, output.splitlines()[-1]
    name, stop_iter, state, options, launcher, _ = match.groups()
    assert name == 'SIGUSR1' and options == str(root / 'stopped.yml') and not launcher  # SIGTERM came second
    assert state == str(root / 'experiments' / 'stopped' / 'training_states' / f'{stop_iter}.state')
    saved = torch.load(state, weights_only=True)
    assert saved['iter'] == int(stop_iter) and saved['epoch'] == (int(stop_iter) - 1) // 3  # 3 steps an epoch
    for net in ('g', 'd'):
        torch.load(root / 'experiments' / 'stopped' / 'models' / f'net_{net}_{stop_iter}.pth', weights_only=True)
    assert not re.search(rf'iter:\s+{int(stop_iter) + 1},', output)  # it stopped after that step


def test_auto_resume_after_a_signal_equals_an_uninterrupted_run(stopped_and_resumed):
    root, _, stopped_output, resumed_output = stopped_and_resumed
    stop_iter = int(STOP_LINE.fullmatch(stopped_output.splitlines()[-1]).group(2))
    assert f'Resuming training from epoch: {(stop_iter - 1) // 3}, iter: {stop_iter}.' in resumed_output
    logged_iters = [int(i) for i in re.findall(r'iter:\s+(\d+),', resumed_output)]
    assert logged_iters == list(range(stop_iter + 1, TOTAL_ITER + 1))  # no step done twice or left out
    resumed, uninterrupted = saved_networks(root, 'stopped'), saved_networks(root, 'uninterrupted')
    for net in ('net_g', 'net_d'):
        for param_key, params in uninterrupted[net].items():
            for name, value in params.items():
                assert torch.equal(resumed[net][param_key][name], value), f'{net} {param_key} {name}'


def test_a_signal_to_the_whole_process_group_spares_the_loader_workers(tmp_path):
    """As Slurm or ``timeout`` signal: the training process and its data loader worker get SIGTERM; the worker
    outlives it, so the training finishes its step and saves."""
    opt = yaml.safe_load(open(resumable_options(tmp_path, 'workers', 40)))
    opt['datasets']['train']['num_worker_per_gpu'] = 1
    options = write_options(tmp_path / 'workers.yml', opt)
    training = start_training(tmp_path, options, new_session=True)
    wait_for_first_state(training, tmp_path, options)
    os.killpg(training.pid, signal.SIGTERM)
    output = finished_output(training)
    assert training.returncode == 75 and 'Traceback' not in output, output[-3000:]
    match = STOP_LINE.fullmatch(output.splitlines()[-1])
    assert match and match.group(1) == 'SIGTERM' and os.path.isfile(match.group(3)), output[-3000:]


@pytest.fixture
def stop_signals_handled(monkeypatch):
    """This process's stop signals only record a stop request, for the test; restored afterwards."""
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGUSR1)}
    monkeypatch.setattr(StopRequest, 'signal_number', None)
    handle_stop_signals()
    yield
    for number, handler in previous.items():
        signal.signal(number, handler)


def test_a_second_signal_during_the_save_changes_nothing(tmp_path, stop_signals_handled):
    """The model stops after the step it is in, whatever signals come during the save."""
    model = make_model(tmp_path)
    model.opt['iters_per_epoch'] = 2
    os.makedirs(tmp_path / 'models')
    os.makedirs(tmp_path / 'states')
    feed(model)
    model.optimize_parameters(4)  # no signal yet: nothing saved
    assert os.listdir(tmp_path / 'states') == []
    write_checkpoint_file = model.write_checkpoint_file

    def signalled_write(obj, path):
        os.kill(os.getpid(), signal.SIGTERM)
        write_checkpoint_file(obj, path)

    model.write_checkpoint_file = signalled_write
    os.kill(os.getpid(), signal.SIGUSR1)
    saved_to = re.escape(f"stopped by SIGUSR1 after iteration 5; state saved to {tmp_path / 'states' / '5.state'}; ")
    with pytest.raises(TrainingStopped, match=f'^{saved_to}continue with: '):
        model.optimize_parameters(5)
    state = torch.load(tmp_path / 'states' / '5.state', weights_only=True)
    assert (state['iter'], state['epoch'], len(state['rng_states'])) == (5, 2, 1)
    assert sorted(os.listdir(tmp_path / 'models')) == ['net_d_5.pth', 'net_g_5.pth']


def child_pids(pid):
    """The process ids of the children of ``pid``."""
    with open(f'/proc/{pid}/task/{pid}/children') as f:
        return [int(child) for child in f.read().split()]


def rank_of(pid):
    with open(f'/proc/{pid}/environ', 'rb') as f:
        return int(dict(entry.split(b'=', 1) for entry in f.read().split(b'\0') if b'=' in entry)[b'RANK'])


def test_two_processes_stop_at_the_same_iteration_when_one_is_signalled(tmp_path):
    """torchrun, 2 gloo processes: SIGTERM to rank 1 alone. Both stop after the same step (rank 0 learns of it
    through the step's all_reduce), rank 0 writes one state with both processes' random states and says so, and
    --auto_resume goes on from it."""
    options = resumable_options(tmp_path, 'ddp', 40)
    training = start_training(tmp_path, options, TORCHRUN, '--launcher', 'pytorch')
    wait_for_first_state(training, tmp_path, options)
    workers = {rank_of(pid): pid for pid in child_pids(training.pid)}
    os.kill(workers[1], signal.SIGTERM)
    output = finished_output(training)
    lines = [line for line in output.splitlines() if line.startswith('msiagan-train: stopped')]
    assert len(lines) == 1, output[-3000:]
    match = STOP_LINE.fullmatch(lines[0])
    assert match and match.group(1) == 'a signal to another process' and match.group(6), lines[0]
    stop_iter = int(match.group(2))
    exit_statuses = re.findall(r'rank\s*:\s*(\d) \(local_rank: \d\)\s*exitcode\s*:\s*(\d+)', output)
    assert stop_iter < 40 and sorted(exit_statuses) == [('0', '75'), ('1', '75')], output[-3000:]
    state = torch.load(tmp_path / 'experiments' / 'ddp' / 'training_states' / f'{stop_iter}.state', weights_only=True)
    assert state['iter'] == stop_iter and len(state['rng_states']) == 2
    assert not torch.equal(state['rng_states'][0]['torch'], state['rng_states'][1]['torch'])
    resumed = start_training(tmp_path, options, TORCHRUN, '--launcher', 'pytorch', '--auto_resume',
                             '--force_yml', 'train:total_iter=' + str(stop_iter + 2))
    output = finished_output(resumed)
    assert resumed.returncode == 0, output[-3000:]
    assert f'iter: {stop_iter}.' in output and 'End of training' in output
