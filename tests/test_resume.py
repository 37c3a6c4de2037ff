"""Killed and resumed: atomic checkpoints, an exact --auto_resume after SIGKILL, and NaN/infinite losses."""
import glob
import os
import random
import re
import signal
from os import path as osp

import numpy as np
import pytest
import torch
from conftest import (feed, finished_output, make_dataset, make_model, resumable_options, run_entry, saved_networks,
                      signalled_after_first_state, start_training, tiny_train_options, write_options, write_pairs)

from msiagan.basicsr_patches.resume import ResumableSampler, latest_training_state, load_resume_state
from msiagan.utils.errors import InputError, TrainingError
from msiagan.utils.rng import rng_states, set_rng_states
from msiagan.utils.writing import atomic_save

TOTAL_ITER = 12


@pytest.fixture(scope='module', params=['plain', 'fast'])
def killed_and_resumed(request, tmp_path_factory):
    """An uninterrupted run, and the same run killed (SIGKILL) after its first saved state then resumed; through
    the plain path, then through the fast one.

    Returns (root, iterations of the states on disk at the kill, the resumed run's log)."""
    root = tmp_path_factory.mktemp('resume')
    fast = request.param == 'fast'
    uninterrupted = start_training(root, resumable_options(root, 'uninterrupted', TOTAL_ITER, fast))
    options = resumable_options(root, 'killed', TOTAL_ITER, fast)
    killed, output = signalled_after_first_state(root, options, signal.SIGKILL)
    states_dir = root / 'experiments' / 'killed' / 'training_states'
    assert killed.returncode == -signal.SIGKILL, output[-3000:]
    saved_iters = sorted(int(m.group(1)) for m in map(re.compile(r'(\d+)\.state').fullmatch, os.listdir(states_dir))
                         if m)
    for path in glob.glob(str(states_dir / '*.state')) + glob.glob(str(states_dir / '..' / 'models' / '*.pth')):
        torch.load(path, weights_only=True)  # every file under a final name is whole, whenever the kill came
    resumed = start_training(root, str(root / 'killed.yml'), (), '--auto_resume')
    output = finished_output(resumed)
    assert resumed.returncode == 0, output[-3000:]
    output = finished_output(uninterrupted)
    assert uninterrupted.returncode == 0, output[-3000:]
    logs = sorted(glob.glob(str(root / 'experiments' / 'killed' / 'train_*.log')), key=osp.getmtime)
    return root, saved_iters, open(logs[-1]).read()


def test_resume_continues_from_the_newest_state_and_finishes(killed_and_resumed):
    _, saved_iters, log = killed_and_resumed
    assert saved_iters and saved_iters[-1] < TOTAL_ITER, saved_iters
    epoch = (saved_iters[-1] - 1) // 3  # 3 steps an epoch
    assert f'Resuming training from epoch: {epoch}, iter: {saved_iters[-1]}.' in log
    logged_iters = [int(i) for i in re.findall(r'iter:\s+(\d+),', log)]
    assert logged_iters == list(range(saved_iters[-1] + 1, TOTAL_ITER + 1))
    assert 'End of training' in log


def test_resumed_weights_equal_an_uninterrupted_run(killed_and_resumed):
    root = killed_and_resumed[0]
    resumed, uninterrupted = saved_networks(root, 'killed'), saved_networks(root, 'uninterrupted')
    for net in ('net_g', 'net_d'):
        for param_key, params in uninterrupted[net].items():
            for name, value in params.items():
                assert torch.equal(resumed[net][param_key][name], value), f'{net} {param_key} {name}'


def test_atomic_save_keeps_the_old_file_when_a_save_fails(tmp_path):
    path = tmp_path / 'net.pth'
    atomic_save({'w': torch.ones(3)}, path)
    with pytest.raises(Exception):
        atomic_save({'w': torch.zeros(1000), 'bad': lambda: None}, path)  # fails part-way: lambdas do not pickle
    assert torch.equal(torch.load(path, weights_only=True)['w'], torch.ones(3))
    assert os.listdir(tmp_path) == ['net.pth']


def training_state(current_iter):
    """The keys of a BasicSR training state, without content."""
    return {'iter': current_iter, 'epoch': 0, 'optimizers': [], 'schedulers': []}


def test_auto_resume_skips_an_unreadable_state(tmp_path):
    atomic_save(training_state(2), tmp_path / '2.state')
    (tmp_path / '4.state').write_bytes((tmp_path / '2.state').read_bytes()[:100])  # cut short
    (tmp_path / '6.state.tmp').write_bytes(b'')  # what a kill during a save leaves
    assert latest_training_state(str(tmp_path)) == str(tmp_path / '2.state')


def test_a_state_whose_networks_are_missing_is_skipped_or_named(tmp_path):
    """BasicSR logs a failed network save and goes on: --auto_resume skips such a state, a named one is refused;
    so is a named state that cannot be read."""
    states, models = tmp_path / 'states', tmp_path / 'models'
    states.mkdir()
    models.mkdir()
    opt = {'network_g': {}, 'network_d': {}, 'auto_resume': True,
           'path': {'training_states': str(states), 'models': str(models)}}
    for current_iter in (2, 4):
        atomic_save(training_state(current_iter), states / f'{current_iter}.state')
        for net in ('g', 'd'):
            atomic_save({'params': {}}, models / f'net_{net}_{current_iter}.pth')
    os.remove(models / 'net_d_4.pth')
    assert latest_training_state(str(states), opt) == str(states / '2.state')
    assert latest_training_state(str(states)) == str(states / '4.state')
    opt.update(auto_resume=False)
    opt['path']['resume_state'] = str(states / '4.state')
    with pytest.raises(InputError, match=r'4\.state is for iteration 4, but .*net_d_4\.pth is missing'):
        load_resume_state(opt)
    (states / '6.state').write_bytes((states / '2.state').read_bytes()[:50])
    opt['path']['resume_state'] = str(states / '6.state')
    with pytest.raises(InputError, match=r'6\.state cannot be read'):
        load_resume_state(opt)
    opt['path']['resume_state'] = str(models / 'net_g_2.pth')  # a network, not a state
    with pytest.raises(InputError, match=r'net_g_2\.pth is not a training state'):
        load_resume_state(opt)
    atomic_save({'params': {}}, states / '8.state')
    for net in ('g', 'd'):
        atomic_save({'params': {}}, models / f'net_{net}_8.pth')
    assert latest_training_state(str(states), opt) == str(states / '2.state')


def test_sampler_takes_up_an_epoch_part_way_with_the_saved_random_state(tmp_path):
    dataset = list(range(10))
    uninterrupted = ResumableSampler(dataset, 1, 0, 2)
    uninterrupted.set_epoch(3)
    saved = rng_states()
    expected = list(uninterrupted)[6:], torch.rand(1)
    set_rng_states(saved)
    torch.rand(5)  # what the resumed process does before it gets to its data
    resumed = ResumableSampler(dataset, 1, 0, 2)
    resumed.resume_at(6, saved)
    iter(resumed)  # an iterator made before the epoch is set (BasicSR's CPUPrefetcher) neither skips nor restores
    resumed.set_epoch(3)
    indices = list(resumed)
    assert (indices, torch.rand(1)) == expected
    resumed.set_epoch(4)
    uninterrupted.set_epoch(4)
    assert list(resumed) == list(uninterrupted)


@pytest.mark.parametrize('fast_options', [{}, dict(channels_last=True, mixed_precision='bf16')])
def test_nonfinite_loss_stops_training_before_any_update(tmp_path, fast_options):
    model = make_model(tmp_path, **fast_options)
    feed(model)
    model.optimize_parameters(1)
    before = [p.detach().clone() for p in (*model.net_g.parameters(), *model.net_d.parameters())]
    model.cri_mac.loss_weight = float('nan')
    with pytest.raises(TrainingError, match=r'^iteration 2: loss l_g_mac is NaN or infinite; training stopped'):
        model.optimize_parameters(2)
    assert all(torch.equal(a, b) for a, b in zip(before, (*model.net_g.parameters(), *model.net_d.parameters())))


def test_skip_nonfinite_skips_the_step_and_goes_on(tmp_path):
    model = make_model(tmp_path, skip_nonfinite=True)
    feed(model)
    before = [p.detach().clone() for p in (*model.net_g.parameters(), *model.net_d.parameters())]
    model.cri_ssim.loss_weight = float('inf')
    model.optimize_parameters(1)
    assert all(torch.equal(a, b) for a, b in zip(before, (*model.net_g.parameters(), *model.net_d.parameters())))
    model.cri_ssim.loss_weight = 20.0
    model.optimize_parameters(2)
    assert not torch.equal(before[0], next(model.net_g.parameters()))


def test_nonfinite_loss_ends_the_run_with_one_line_and_saves_nothing(tmp_path):
    train_dirs = write_pairs(str(tmp_path / 'train'), ['a', 'b'], size=(40, 40))
    opt = tiny_train_options('nan', train_dirs, train_dirs, total_iter=2)
    opt['train']['pixel_opt']['loss_weight'] = float('inf')
    result = run_entry('train', tmp_path, '-opt', write_options(tmp_path / 'nan.yml', opt))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith('msiagan-train: error: iteration 1: loss l_g_pix is NaN or '
                                                     'infinite; training stopped')
    assert 'Traceback' not in result.stderr
    assert os.listdir(tmp_path / 'experiments' / 'nan' / 'models') == []


def test_random_states_survive_a_save_and_load(tmp_path):
    """Python, NumPy and torch generators come back from a weights_only file where they were."""
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    atomic_save({'rng_states': [rng_states()]}, tmp_path / 'x.state')
    expected = random.random(), np.random.rand(), torch.rand(1)
    set_rng_states(torch.load(tmp_path / 'x.state', weights_only=True)['rng_states'][0])
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_validation_leaves_the_random_generators_as_it_found_them(tmp_path):
    """Validation draws random numbers (the loader's seed); training afterwards must not see the difference."""
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'val'), ['v1', 'v2'], size=(32, 24))
    model = make_model(tmp_path)
    dataset = make_dataset(lq_dir, gt_dir, name='tiny_val')
    loader = torch.utils.data.DataLoader(dataset, batch_size=1)
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    before = random.random(), np.random.rand(), torch.rand(1)
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    model.validation(loader, 1, None, False)
    assert (random.random(), np.random.rand()) == before[:2] and torch.equal(torch.rand(1), before[2])


def test_ctrl_c_stops_training_in_one_line_and_auto_resume_goes_on(tmp_path):
    options = resumable_options(tmp_path, 'interrupted', 40)  # 40 steps: the signal comes well before the end
    process, output = signalled_after_first_state(tmp_path, options, signal.SIGINT)
    assert process.returncode == 130 and 'Traceback' not in output, output[-3000:]
    assert output.splitlines()[-1] == ('msiagan-train: stopped (Ctrl-C); the checkpoints and training states saved '
                                       'so far are whole: --auto_resume goes on from the last one, if any')
    resumed = start_training(tmp_path, options, (), '--auto_resume')
    output = finished_output(resumed)
    assert resumed.returncode == 0 and 'Resuming training from epoch' in output, output[-3000:]
