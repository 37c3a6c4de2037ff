"""Train, validate, checkpoint and resume through BasicSR's own train_pipeline and test_pipeline, on the CPU."""
import glob
import os
import re
from os import path as osp

import pytest
import torch
from conftest import run_entry, tiny_train_options, write_options, write_pairs


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 4-iteration run with checkpoints and validation every 2 iterations: (root, options file, result)."""
    root = tmp_path_factory.mktemp('pipeline')
    train_dirs = write_pairs(str(root / 'train'), [f'{i}' for i in range(4)], size=(40, 40), gt_ext='.jpg')
    val_dirs = write_pairs(str(root / 'val'), ['v1', 'v2'], size=(36, 28), seed=1)
    options = write_options(root / 'tiny.yml', tiny_train_options('tiny', train_dirs, val_dirs, total_iter=4))
    return root, options, run_entry('train', root, '-opt', options)


def newest_log(experiment):
    return open(max(glob.glob(str(experiment / 'train_*.log')), key=osp.getmtime)).read()


def test_train_validates_and_saves(trained):
    root, _, result = trained
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = root / 'experiments' / 'tiny'
    for name in ('net_g_2.pth', 'net_g_4.pth', 'net_d_4.pth', 'net_g_latest.pth'):
        assert (experiment / 'models' / name).is_file()
    assert sorted(os.listdir(experiment / 'training_states')) == ['2.state', '4.state']
    saved = torch.load(experiment / 'models' / 'net_g_4.pth', weights_only=True)
    assert set(saved) == {'params', 'params_ema'}
    log = newest_log(experiment)
    assert log.count('Validation tiny_val') >= 2 and '# psnr' in log and '# ssim' in log
    for term in ('l_g_pix', 'l_g_mac', 'l_g_ssim', 'l_g_gan', 'l_d_real', 'l_d_fake'):
        assert term in log


def test_auto_resume_continues_from_the_last_state(trained):
    root, options, _ = trained
    result = run_entry('train', root, '-opt', options, '--auto_resume', '--force_yml', 'train:total_iter=6')
    assert result.returncode == 0, result.stderr[-3000:]
    log = newest_log(root / 'experiments' / 'tiny')
    assert 'Resuming training from epoch: 0, iter: 4.' in log
    assert re.search(r'iter:\s+5,', log) and not re.search(r'iter:\s+[1-4],', log)
    assert (root / 'experiments' / 'tiny' / 'models' / 'net_g_6.pth').is_file()


def test_resume_from_a_named_state(trained):
    root, options, _ = trained
    state = root / 'experiments' / 'tiny' / 'training_states' / '2.state'
    result = run_entry('train', root, '-opt', options, '--force_yml', f'path:resume_state={state}')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Resuming training from epoch: 0, iter: 2.' in newest_log(root / 'experiments' / 'tiny')


def test_test_pipeline_reports_metrics_and_writes_images(trained):
    root, _, _ = trained
    opt = tiny_train_options('tiny', ('x', 'x'), ('x', 'x'))
    test_options = {
        'name': 'tiny_test', 'model_type': 'MSIAGANModel', 'scale': 1, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'test_1': {'name': 'tiny_val', 'type': 'PairedLowLightDataset',
                                'dataroot_lq': str(root / 'val' / 'low'), 'dataroot_gt': str(root / 'val' / 'high'),
                                'io_backend': {'type': 'disk'}}},
        'network_g': opt['network_g'],
        'path': {'pretrain_network_g': str(root / 'experiments' / 'tiny' / 'models' / 'net_g_4.pth'),
                 'param_key_g': 'params_ema', 'strict_load_g': True},
        'val': {'save_img': True, 'suffix': None, 'metrics': opt['val']['metrics']},
    }
    result = run_entry('test', root, '-opt', write_options(root / 'test.yml', test_options))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(root / 'results' / 'tiny_test' / 'visualization' / 'tiny_val')) == \
        ['v1_tiny_test.png', 'v2_tiny_test.png']
    log = open(glob.glob(str(root / 'results' / 'tiny_test' / 'test_tiny_test_*.log'))[0]).read()
    assert '# psnr' in log and '# ssim' in log
    del test_options['val']['suffix']  # msiagan-test checks its options file as a test run's
    result = run_entry('test', root, '-opt', write_options(root / 'bad_test.yml', test_options))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().endswith('bad_test.yml: val:suffix is missing (~ for none)')


def test_quiet_training_shows_progress_and_results_and_keeps_the_full_log(tmp_path):
    train_dirs = write_pairs(str(tmp_path / 'train'), ['a', 'b'])
    val_dirs = write_pairs(str(tmp_path / 'val'), ['c'], seed=1)
    options = tiny_train_options('quiet', train_dirs, val_dirs, total_iter=4)
    options['logger']['print_freq'] = 2
    options['val']['val_freq'] = 4
    result = run_entry('train', tmp_path, '-opt', write_options(tmp_path / 'quiet.yml', options), '--quiet')
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    (log_file,) = glob.glob(str(tmp_path / 'experiments' / 'quiet' / 'train_quiet_*.log'))
    assert lines[:2] == ['Disable distributed.', f'training; the full log: {log_file}']  # the first: BasicSR's
    number = r'[\d.e+-]+'
    assert re.fullmatch(rf'iter 2/4 \(50%\), eta \d+:\d\d:\d\d, l_g_pix {number}, l_g_mac .*, l_d_fake {number}',
                        lines[2])
    assert re.fullmatch(r'iter 4/4 \(100%\), eta 0:00:00, l_g_pix .*', lines[3])
    assert re.fullmatch(r'Validation tiny_val psnr: [\d.]+ Best: [\d.]+ @ 4 iter ssim: .*', lines[4])
    assert lines[5].startswith('End of training. Time consumed: ')
    assert lines[6].startswith('Validation tiny_val psnr: ') and len(lines) == 7  # BasicSR's final validation
    assert 'Version Information' not in result.stdout + result.stderr  # no banner, no options dump
    assert 'dataroot_lq' not in result.stdout + result.stderr
    log = open(log_file).read()
    assert 'Version Information' in log and 'dataroot_lq' in log and '[epoch:' in log and 'Validation' in log
