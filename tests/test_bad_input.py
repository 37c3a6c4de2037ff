"""Bad input of every kind the data pipeline meets ends in one line naming the file or option at fault."""
import copy
import glob
import os
import re
import sys
from os import path as osp

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, make_dataset, run_entry, tiny_train_options, write_options, write_pairs

from msiagan.utils.entry import one_line, run_cli
from msiagan.utils.errors import InputError
from msiagan.utils.options_check import check_options_argv


# ----- data files -----

def test_missing_and_empty_data_folders(tmp_path, pairs):
    with pytest.raises(InputError, match=f"{tmp_path / 'nowhere'}: data folder does not exist"):
        make_dataset(tmp_path / 'nowhere', pairs[1])
    os.makedirs(tmp_path / 'empty')
    (tmp_path / 'empty' / 'notes.txt').write_text('no images here')
    with pytest.raises(InputError, match=f"{tmp_path / 'empty'}: data folder has no images"):
        make_dataset(pairs[0], tmp_path / 'empty')


@pytest.mark.parametrize('damage', ['garbage', 'truncated', 'empty'])
def test_unreadable_images_are_named(pairs, damage):
    path = osp.join(pairs[0], '10.png')
    if damage == 'truncated':
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 2)
    else:
        open(path, 'wb').write(b'not an image' if damage == 'garbage' else b'')
    with pytest.raises(InputError, match=f'{path}: cannot read this image'):
        make_dataset(*pairs)


def test_pairs_of_different_sizes_are_named(pairs):
    cv2.imwrite(osp.join(pairs[1], '2.jpg'), np.zeros((40, 47, 3), np.uint8))
    with pytest.raises(InputError, match=r'low/2.png \(48x40\) and .*high/2.jpg \(47x40\) differ in size'):
        make_dataset(*pairs)


def test_whole_frame_batches_need_one_size(tmp_path):
    write_pairs(str(tmp_path), ['a'], size=(48, 40))
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['b'], size=(40, 48))
    with pytest.raises(InputError, match=r'batch_size_per_gpu 2 with whole frames .*/low/b.png is 40x48: set gt_size'):
        make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, batch_size_per_gpu=2)
    assert len(make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, batch_size_per_gpu=1)) == 2
    assert len(make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, resize=[32, 32], batch_size_per_gpu=2)) == 2


def test_whole_frame_batches_are_not_turned(tmp_path):
    """use_rot would turn some non-square frames of a batch 90 degrees: refused; square frames are fine."""
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'], size=(48, 40))
    with pytest.raises(InputError, match=r'and use_rot: a 90-degree turn makes a 48x40 frame 40x48'):
        make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, batch_size_per_gpu=2, use_rot=True)
    with pytest.raises(InputError, match=r'makes a 40x32 frame 32x40, and a batch needs one size: set use_rot'):
        make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, resize=[40, 32], batch_size_per_gpu=2, use_rot=True)
    square = make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, resize=[32, 32], batch_size_per_gpu=2,
                          use_rot=True)
    assert square[0]['lq'].shape == (3, 32, 32)
    assert len(make_dataset(lq_dir, gt_dir, phase='train', gt_size=None, batch_size_per_gpu=2, use_hflip=True)) == 2


def test_a_folder_that_is_not_an_lmdb(pairs):
    with pytest.raises(InputError, match=f'{pairs[0]}: not an LMDB with a meta_info.txt'):
        make_dataset(*pairs, backend='lmdb')
    open(osp.join(pairs[0], 'meta_info.txt'), 'w').write('1.png (40,48,3) 1\n')
    with pytest.raises(InputError, match=f'{pairs[0]}: cannot open this LMDB'):
        make_dataset(*pairs, backend='lmdb')


# ----- options files -----

@pytest.fixture
def options():
    return tiny_train_options('bad', ('lq', 'gt'), ('lq', 'gt'))


def section_at(options, path):
    """The section of ``options`` at 'a:b:c' ('' for the top)."""
    section = options
    for key in filter(None, path.split(':')):
        section = section[key]
    return section


def check(tmp_path, opt, *args, is_train=True):
    check_options_argv(['-opt', write_options(tmp_path / 'bad.yml', opt), *args], is_train)


@pytest.mark.parametrize('options_file', sorted(glob.glob(osp.join(REPO, 'options', '**', '*.yml'), recursive=True)))
def test_the_shipped_options_files_pass(options_file, monkeypatch):
    monkeypatch.chdir(REPO)  # test_lol.yml's weights path is relative to the working directory, as in BasicSR
    is_train = not osp.basename(options_file).startswith('test_')
    with open(options_file) as f:
        path = yaml.safe_load(f).get('path', {})
    # later stages of a recipe start from the previous stage's checkpoints, which a fresh clone does not have
    previous_stage = [f'path:{key}=~' for key in ('pretrain_network_g', 'pretrain_network_d')
                      if is_train and path.get(key)]
    check_options_argv(['-opt', options_file, *(['--force_yml', *previous_stage] if previous_stage else [])],
                       is_train=is_train)


@pytest.mark.parametrize('where, value, message', [
    ('network_g', 'MSIAGenerater', "network_g:type 'MSIAGenerater' is not a registered arch; did you mean "
     "'MSIAGenerator'?"),
    ('network_d', 'NoSuchThing', "network_d:type 'NoSuchThing' is not a registered arch (registered: BasicVSR, "),
    ('datasets:train', 'PairedLowlightDataset', "datasets:train:type 'PairedLowlightDataset' is not a registered "
     'dataset'),
    ('train:mac_opt', 'MacLoss', "train:mac_opt:type 'MacLoss' is not a registered loss; did you mean 'MACLoss'?"),
    ('val:metrics:psnr', 'psnr', "val:metrics:psnr:type 'psnr' is not a registered metric"),
    ('train:scheduler', 'StepLR', "train:scheduler:type 'StepLR' is not one of MultiStepLR, "),
    ('datasets:val:io_backend', 'memcached', "datasets:val:io_backend:type 'memcached' is not one of disk, lmdb"),
])
def test_unknown_types_are_named(tmp_path, options, where, value, message):
    section_at(options, where)['type'] = value
    with pytest.raises(InputError) as error:
        check(tmp_path, options)
    assert str(error.value).startswith(f"{tmp_path / 'bad.yml'}: {message}")


@pytest.mark.parametrize('where, key, message', [
    ('network_g', 'num_feet', "network_g:num_feet is not an argument of MSIAGenerator; did you mean 'num_feat'?"),
    ('train:mac_opt', 'scale', "train:mac_opt:scale is not an argument of MACLoss; did you mean 'scales'?"),
])
def test_misspelt_network_and_loss_arguments_are_named(tmp_path, options, where, key, message):
    section_at(options, where)[key] = 8
    with pytest.raises(InputError, match='^' + re.escape(f"{tmp_path / 'bad.yml'}: {message}") + '$'):
        check(tmp_path, options)


@pytest.mark.parametrize('key', ['name', 'model_type', 'network_g', 'datasets:train', 'datasets:train:dataroot_gt',
                                 'datasets:val:io_backend', 'datasets:train:batch_size_per_gpu', 'train:total_iter',
                                 'train:scheduler', 'train:optim_g:type', 'train:gan_opt:type', 'logger',
                                 'logger:save_checkpoint_freq', 'val:val_freq', 'val:metrics:ssim:type'])
def test_missing_keys_are_named(tmp_path, options, key):
    parent, _, last = key.rpartition(':')
    del section_at(options, parent)[last]
    with pytest.raises(InputError, match=f"^{tmp_path / 'bad.yml'}: {key} is missing$"):
        check(tmp_path, options)


@pytest.mark.parametrize('where, key', [('train:optim_g', 'lr'), ('train:scheduler', 'eta_min'),
                                        ('train:pixel_opt', 'loss_weight'), ('train', 'ema_decay')])
def test_numbers_that_yaml_reads_as_text_are_named(tmp_path, options, where, key):
    section_at(options, where)[key] = '1e-4'
    message = f"{where}:{key} '1e-4' is text, not a number, to YAML: write 0.0001 (or !!float 1e-4)"
    with pytest.raises(InputError, match='^' + re.escape(f"{tmp_path / 'bad.yml'}: {message}") + '$'):
        check(tmp_path, options)
    section_at(options, where)[key] = 1e-4
    with pytest.raises(InputError, match=re.escape("train:optim_d:lr '1e30' is text, not a number, to YAML: write "
                                                   "1.0e+30 (or !!float 1e30)")):
        check(tmp_path, options, '--force_yml', 'train:optim_d:lr=1e30')
    with pytest.raises(InputError, match=re.escape("train:optim_g:lr '5.0e-05' is text, not a number, to YAML: write "
                                                   "0.00005 (or !!float 5.0e-05)")):
        check(tmp_path, options, '--force_yml', 'train:optim_g:lr=5.0e-05')  # BasicSR reads 0.00005 as a number


def test_test_runs_need_weights_and_force_yml_is_applied(tmp_path, options):
    test_options = copy.deepcopy(options)
    del test_options['train']
    test_options['val']['suffix'] = None
    with pytest.raises(InputError, match=r'path:pretrain_network_g is missing \(testing needs trained weights\)'):
        check(tmp_path, test_options, is_train=False)
    weights = tmp_path / 'net_g.pth'
    with pytest.raises(InputError, match=f'path:pretrain_network_g {weights}: file does not exist$'):
        check(tmp_path, test_options, '--force_yml', f'path:pretrain_network_g={weights}', is_train=False)
    weights.write_bytes(b'')
    check(tmp_path, test_options, '--force_yml', f'path:pretrain_network_g={weights}', is_train=False)
    with pytest.raises(InputError, match=f'path:resume_state {tmp_path}/9.state: file does not exist$'):
        check(tmp_path, options, '--force_yml', f'path:resume_state={tmp_path}/9.state')
    with pytest.raises(InputError, match="network_g:type 'Nope'"):
        check(tmp_path, options, '--force_yml', 'network_g:type=Nope')
    with pytest.raises(InputError, match='--force_yml netwrk_g:type=X: there is no section netwrk_g'):
        check(tmp_path, options, '--force_yml', 'netwrk_g:type=X')


def test_unreadable_options_files(tmp_path):
    with pytest.raises(InputError, match='^nowhere.yml: cannot read'):
        check_options_argv(['-opt', 'nowhere.yml'], True)
    (tmp_path / 'broken.yml').write_text('name: [unclosed\n')
    with pytest.raises(InputError, match=f"{tmp_path / 'broken.yml'}, line 2, column 1: not valid YAML"):
        check_options_argv(['-opt', str(tmp_path / 'broken.yml')], True)


# ----- through the entry point: one line, a traceback only with --debug, nothing trained -----

def test_entry_point_reports_a_bad_option_in_one_line(tmp_path, options):
    options['network_g']['type'] = 'MSIAGenerater'
    options_file = write_options(tmp_path / 'bad.yml', options)
    result = run_entry('train', tmp_path, '-opt', options_file)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"msiagan-train: error: {options_file}: network_g:type "
                                                      "'MSIAGenerater' is not a registered arch; did you mean "
                                                      "'MSIAGenerator'?")


def test_debug_shows_the_traceback(monkeypatch):
    def pipeline():
        raise InputError('x.yml: something is wrong')

    monkeypatch.setattr(sys, 'argv', ['msiagan-train', '-opt', 'x.yml'])
    with pytest.raises(SystemExit, match='^msiagan-train: error: x.yml: something is wrong$'):
        run_cli('msiagan-train', pipeline)
    monkeypatch.setattr(sys, 'argv', ['msiagan-train', '-opt', 'x.yml', '--debug'])
    with pytest.raises(InputError, match='something is wrong'):
        run_cli('msiagan-train', pipeline)


def test_entry_point_stops_on_a_truncated_image_before_training(tmp_path):
    train_dirs = write_pairs(str(tmp_path / 'train'), ['a', 'b'], size=(40, 40))
    with open(osp.join(train_dirs[1], 'b.png'), 'r+b') as f:
        f.truncate(200)
    options = tiny_train_options('truncated', train_dirs, train_dirs)
    result = run_entry('train', tmp_path, '-opt', write_options(tmp_path / 'truncated.yml', options))
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"msiagan-train: error: {train_dirs[1]}/b.png: cannot read "
                                                      'this image (missing, truncated or not an image)')
    assert not glob.glob(str(tmp_path / 'experiments' / 'truncated' / 'models' / '*'))


def test_malformed_options_are_named_not_tracebacks(tmp_path, options, monkeypatch):
    bad = f"^{re.escape(str(tmp_path / 'bad.yml'))}: "
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    options['num_gpu'] = 1
    with pytest.raises(InputError, match=bad + r'num_gpu 1: this machine has 0 CUDA GPU\(s\); use auto or 0$'):
        check(tmp_path, options)
    options['num_gpu'] = 0
    options['val']['metrics'] = ['psnr']
    with pytest.raises(InputError, match=bad + r"val:metrics must be a section of options, not \['psnr'\]$"):
        check(tmp_path, options)
    del options['val']['metrics']
    options['path']['pretrain_network_g'] = 5
    with pytest.raises(InputError, match=bad + 'path:pretrain_network_g 5: file does not exist$'):
        check(tmp_path, options)
    options['path']['pretrain_network_g'] = None
    with pytest.raises(InputError, match='--force_yml name=a=b: one "=" only'):
        check(tmp_path, options, '--force_yml', 'name=a=b')
    (tmp_path / 'binary.yml').write_bytes(b'\x80\x04\x95 not text')
    with pytest.raises(InputError, match=f'^{tmp_path}/binary.yml: not a text'):
        check_options_argv(['-opt', str(tmp_path / 'binary.yml')], True)


def test_cpu_training_under_a_launcher_on_a_machine_with_gpus(tmp_path, options, monkeypatch):
    """num_gpu: 0 under torchrun or srun where CUDA is there would meet NCCL with networks on the CPU."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    options['num_gpu'] = 0
    for launcher in ('pytorch', 'slurm'):
        with pytest.raises(InputError, match=f"^{re.escape(str(tmp_path / 'bad.yml'))}: num_gpu 0 with --launcher "
                           f"{launcher} on a machine with CUDA GPUs: set num_gpu: auto .*CUDA_VISIBLE_DEVICES="):
            check(tmp_path, options, '--launcher', launcher)
    check(tmp_path, options)  # one process on the CPU
    options['dist_params'] = {'backend': 'gloo'}
    check(tmp_path, options, '--launcher', 'slurm')
    with pytest.raises(InputError, match='num_gpu 0 with --launcher pytorch'):  # torchrun: BasicSR ignores dist_params
        check(tmp_path, options, '--launcher', 'pytorch')
    options['num_gpu'] = 'auto'
    check(tmp_path, options, '--launcher', 'pytorch')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    options['num_gpu'] = 0
    check(tmp_path, options, '--launcher', 'pytorch')  # the GPUs hidden


class RaisesInputError(torch.utils.data.Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, index):
        raise InputError('/data/x.png: cannot open (No such file or directory)')


def test_an_error_from_a_loader_worker_is_one_line():
    with pytest.raises(InputError) as error:
        next(iter(torch.utils.data.DataLoader(RaisesInputError(), num_workers=1)))
    assert '\n' in str(error.value)  # the worker's traceback rides along
    assert one_line(error.value) == '/data/x.png: cannot open (No such file or directory)'
