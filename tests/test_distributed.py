"""Distributed data parallel training on the CPU: 2 processes with gloo through torchrun and --launcher pytorch."""
import glob
import os
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import (REPO, finished_output, start_training, tiny_train_options, wake_global_parts, write_options,
                      write_pairs)

from msiagan.archs import MSIAGenerator
from msiagan.basicsr_patches.launchers import init_dist, slurm_environment
from msiagan.utils.errors import InputError

TORCHRUN = ('-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2')


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """One step on 4 pairs: 2 gloo processes with batch 2 each ('ddp') and 1 process with batch 4 ('single').

    Whole frames without flips, so that both see exactly the same 4 images in their one step; SGD for G, so that its
    update is proportional to the gradient (Adam's first step is about lr * sign(gradient), blind to its scale); the
    same initial generator for both, with a global branch that 'ddp_fast' feeds the whole frames (lq_frame) outside
    DDP's forward, so that its gradients must still be averaged. The adversarial term is off (loss_weight 0): D's
    BatchNorm normalises over each process's own batch, so D's verdict on 2 + 2 images is not that on 4.
    """
    root = tmp_path_factory.mktemp('ddp')
    train_dirs = write_pairs(str(root / 'train'), ['a', 'b', 'c', 'd'], size=(32, 32))
    torch.manual_seed(0)
    initial = wake_global_parts(MSIAGenerator(num_feat=16, act='lrelu', global_branch=True))  # its gradients all > 0
    torch.save({'params': initial.state_dict()}, root / 'init.pth')
    for name, batch, runner in (('ddp', 2, (*TORCHRUN, '--log-dir', str(root / 'ranks'), '--redirects', '3')),
                                ('ddp_fast', 2, (*TORCHRUN, '--log-dir', str(root / 'ranks_fast'))),
                                ('single', 4, ())):
        # float32: comparable to the single process; G on one crop at a time, each a forward of DDP before the backward
        fast = dict(channels_last=True, generator_chunk=1) if name == 'ddp_fast' else {}
        opt = tiny_train_options(name, train_dirs, train_dirs, total_iter=1, optim_g={'type': 'SGD', 'lr': 0.01},
                                 **fast)
        opt['datasets']['train'].update(gt_size=None, use_hflip=False, use_rot=False, dataset_enlarge_ratio=1,
                                        batch_size_per_gpu=batch, cache='memory' if fast else None, lq_frame=bool(fast))
        opt['network_g']['global_branch'] = True
        del opt['datasets']['val'], opt['val']
        opt['train']['gan_opt']['loss_weight'] = 0.0
        opt['path']['pretrain_network_g'] = str(root / 'init.pth')
        opt['logger']['save_checkpoint_freq'] = 1
        launcher = ('--launcher', 'pytorch') if runner else ()
        # one run at a time: two process groups starting at once on one machine sometimes aborted
        process = start_training(root, write_options(root / f'{name}.yml', opt), runner, *launcher)
        output = finished_output(process)
        assert process.returncode == 0, f'{name}:\n{output[-3000:]}'
    return root


def rank_output(root, rank):
    """What torchrun's process ``rank`` wrote to stdout and stderr."""
    files = glob.glob(str(root / 'ranks' / '**' / str(rank) / 'std*.log'), recursive=True)
    assert files, f'no output of rank {rank}'
    return ''.join(open(f).read() for f in files)


def test_both_ranks_run_and_only_rank_0_logs_and_saves(runs):
    experiment = runs / 'experiments' / 'ddp'
    assert 'INFO: Start training' in rank_output(runs, 0)
    assert 'INFO:' not in rank_output(runs, 1)
    logs = glob.glob(str(experiment / 'train_*.log'))
    assert len(logs) == 1
    log = open(logs[0]).read()
    assert 'Batch size per gpu: 2' in log and 'World size (gpu number): 2' in log
    assert 'Require iter number per epoch: 1' in log  # 4 pairs, 2 x 2 per step
    assert not glob.glob(str(runs / 'experiments' / '*_archived_*'))  # a second make_exp_dirs would archive it
    assert sorted(os.listdir(experiment / 'models')) == ['net_d_1.pth', 'net_d_latest.pth', 'net_g_1.pth',
                                                         'net_g_latest.pth']
    state = torch.load(experiment / 'training_states' / '1.state', weights_only=True)
    assert len(state['rng_states']) == 2
    assert state['rng_states'][0]['python'] != state['rng_states'][1]['python']  # seeded manual_seed + rank


@pytest.mark.parametrize('ddp_run', ['ddp', 'ddp_fast'])
def test_generator_step_equals_one_process_on_the_union_of_the_batches(runs, ddp_run):
    initial = torch.load(runs / 'init.pth', weights_only=True)['params']
    ddp, single = (torch.load(runs / 'experiments' / name / 'models' / 'net_g_1.pth', weights_only=True)['params']
                   for name in (ddp_run, 'single'))
    largest_update = max((single[key] - initial[key]).abs().max().item() for key in initial)
    largest_difference = max((ddp[key] - single[key]).abs().max().item() for key in initial)
    print(f'largest update {largest_update:.3g}, largest difference DDP - single {largest_difference:.3g}')
    assert largest_update > 1e-2
    for key in initial:  # float32 sums in another order: a few units in the last place of the weights
        torch.testing.assert_close(ddp[key], single[key], rtol=1e-5, atol=1e-5 * largest_update)


def test_slurm_variables_become_torch_distributed_ones(tmp_path, monkeypatch):
    scontrol = tmp_path / 'scontrol'
    scontrol.write_text('#!/bin/sh\necho node07\necho node08\n')  # scontrol show hostnames node[07-08]
    scontrol.chmod(0o755)
    monkeypatch.setenv('PATH', f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    slurm = {'SLURM_PROCID': '5', 'SLURM_NTASKS': '8', 'SLURM_LOCALID': '1', 'SLURM_NODELIST': 'node[07-08]'}
    assert slurm_environment(environ=slurm) == {'MASTER_ADDR': 'node07', 'MASTER_PORT': '29500', 'WORLD_SIZE': '8',
                                                'RANK': '5', 'LOCAL_RANK': '1'}
    assert slurm_environment(port=1234, environ=slurm)['MASTER_PORT'] == '1234'
    with pytest.raises(InputError, match='SLURM_LOCALID is not set'):
        slurm_environment(environ={key: value for key, value in slurm.items() if key != 'SLURM_LOCALID'})


RESUME_CHECK = """
import sys
import torch.distributed as dist
from msiagan.utils.distributed import check_same_on_every_process
from msiagan.utils.errors import InputError
dist.init_process_group('gloo')
rank, outcomes = dist.get_rank(), []
for iterations in ([4, 4], [4, None]):  # None: rank 1 found no training state
    try:
        check_same_on_every_process(iterations[rank], 'the iteration resumed from')
        outcomes.append('goes on')
    except InputError as error:
        outcomes.append(str(error))
with open(f'{sys.argv[1]}/rank{rank}.txt', 'w') as f:
    f.write('\\n'.join(outcomes))
dist.destroy_process_group()
"""


def test_processes_that_would_resume_from_different_iterations_stop(tmp_path):
    """A real 2-process gloo group: both go on when they would resume from the same iteration, and both stop,
    naming what each found, when rank 1 found no state (experiments/ is not on storage both machines share)."""
    (tmp_path / 'check.py').write_text(RESUME_CHECK)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, *TORCHRUN, str(tmp_path / 'check.py'), str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        same, different = (tmp_path / f'rank{rank}.txt').read_text().split('\n')
        assert same == 'goes on'
        assert different.startswith('the iteration resumed from differs between the processes: [4, None] (by rank)')


def test_validation_of_a_batchnorm_generator_without_ema(tmp_path):
    """Process 0 validates alone: a generator with buffers must not wait there for process 1 (it did, wrapped)."""
    dirs = write_pairs(str(tmp_path / 'pairs'), ['a', 'b'], size=(32, 32))
    opt = tiny_train_options('bn', dirs, dirs, total_iter=1, ema_decay=0)
    opt['network_g'] = {'type': 'UNetGenerator', 'num_feat': 8, 'num_down': 5}
    opt['val']['val_freq'] = 1
    training = start_training(tmp_path, write_options(tmp_path / 'bn.yml', opt), TORCHRUN, '--launcher', 'pytorch')
    output = finished_output(training, 120)
    assert training.returncode == 0, output[-3000:]
    assert output.count('Validation tiny_val') == 2  # at iteration 1 and at the end


def test_nccl_without_gpus_is_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    with pytest.raises(InputError, match='^dist_params: backend nccl needs CUDA GPUs and this process sees none'):
        init_dist('pytorch', backend='nccl')


def test_the_documented_torchrun_example_options_train_on_gloo(tmp_path):
    """docs/training.md's one-machine torchrun example, options/train/recommended_content_lol.yml with --launcher
    pytorch, as the file is (num_gpu auto, the fast path, lq_frame): only its data, size and length made small."""
    with open(os.path.join(REPO, 'options', 'train', 'recommended_content_lol.yml')) as f:
        opt = yaml.safe_load(f)
    assert 'options/train/recommended_content_lol.yml --launcher pytorch' in open(
        os.path.join(REPO, 'docs', 'training.md')).read()
    lq, gt = write_pairs(str(tmp_path / 'data'), ['a', 'b', 'c', 'd'], size=(40, 32))
    opt['datasets']['train'].update(dataroot_lq=lq, dataroot_gt=gt, meta_info_file=None, gt_size=16,
                                    batch_size_per_gpu=2, dataset_enlarge_ratio=1)
    del opt['datasets']['val'], opt['val']
    opt['network_g']['num_feat'] = 8
    opt['train'].update(total_iter=2, warmup_iter=-1)
    opt['train']['scheduler'].update(periods=[1, 1], restart_weights=[1, 0.5])  # its warm restart, in 2 steps
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2)
    process = start_training(tmp_path, write_options(tmp_path / 'example.yml', opt), TORCHRUN, '--launcher', 'pytorch')
    output = finished_output(process)
    assert process.returncode == 0, output[-3000:]
    assert glob.glob(str(tmp_path / 'experiments' / opt['name'] / 'models' / 'net_g_2.pth'))


def test_training_parts_of_g_some_steps_given_the_exposure_trains_on_gloo(tmp_path):
    """train_only_g and a fractional exposure_given_probability leave parts of G without gradients in some steps (the
    condition, in steps not given the exposure, on one process or both): with find_unused_parameters DDP runs them,
    the frozen parts stay as loaded and the trained ones learn."""
    train_dirs = write_pairs(str(tmp_path / 'train'), ['a', 'b', 'c', 'd'], size=(32, 32))
    network_g = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', 'global_branch': True,
                 'exposure_condition': True}
    torch.manual_seed(0)
    initial = MSIAGenerator(**{key: value for key, value in network_g.items() if key != 'type'})
    torch.save({'params': initial.state_dict()}, tmp_path / 'init.pth')
    opt = tiny_train_options('condition', train_dirs, train_dirs, total_iter=4, exposure_given_probability=0.5,
                             train_only_g=['exposure_condition', 'global_branch'])
    opt['network_g'] = network_g
    opt['find_unused_parameters'] = True
    opt['path']['pretrain_network_g'] = str(tmp_path / 'init.pth')
    opt['datasets']['train'].update(dataset_enlarge_ratio=1)
    del opt['datasets']['val'], opt['val']
    opt['logger']['save_checkpoint_freq'] = 4
    process = start_training(tmp_path, write_options(tmp_path / 'condition.yml', opt), TORCHRUN, '--launcher', 'pytorch')
    output = finished_output(process)
    assert process.returncode == 0, output[-3000:]
    trained = torch.load(tmp_path / 'experiments' / 'condition' / 'models' / 'net_g_4.pth', weights_only=True)['params']
    for name, value in initial.state_dict().items():
        if not name.startswith(('exposure_condition.', 'global_branch.')):
            assert torch.equal(trained[name], value), name  # frozen
        elif name.endswith('mlp.2.weight'):  # the last layers, from zero: they learn
            assert not torch.equal(trained[name], value), name
