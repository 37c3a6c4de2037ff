"""Shared fixtures: tiny generated image pairs and option files for the training pipeline; a full disk; a tiny
generator's checkpoint and msiagan-enhance."""
import errno
import glob
import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from os import path as osp

import cv2
import numpy as np
import pytest
import yaml

import msiagan  # noqa: F401  (registers everything)
import torch
from basicsr.archs import build_network
from basicsr.models import build_model

from msiagan.archs import MSIAGenerator
from msiagan.data import PairedLowLightDataset
from msiagan.enhance import main as enhance_main

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
HOOK_FILES = ('msiagan_basicsr_hook.py', 'msiagan_basicsr_hook.pth')  # the import hook, at the top level


def copy_checkout(dest):
    """Copy what setup.py builds from (so that builds leave nothing in the checkout) to ``dest``; return it."""
    os.makedirs(dest, exist_ok=True)
    for name in ('setup.py', 'setup.cfg', 'README.md', 'requirements.txt', 'MANIFEST.in', *HOOK_FILES):
        shutil.copy(osp.join(REPO, name), dest)
    shutil.copytree(osp.join(REPO, 'msiagan'), osp.join(dest, 'msiagan'), ignore=shutil.ignore_patterns('__pycache__'))
    return dest


@pytest.fixture(scope='session')
def msiagan_wheel(tmp_path_factory):
    """A wheel of a copy of the checkout, built without the network."""
    source = copy_checkout(str(tmp_path_factory.mktemp('source')))
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q',
                    '-w', str(out), source], check=True, capture_output=True)
    (built,) = out.glob('msiagan-*.whl')
    return built


def make_venv(root, *wheels):
    """A fresh virtual environment at ``root`` whose site-packages holds ``wheels`` (their .pth files included) and
    names the site-packages folders of this interpreter's sys.path as plain paths (torch, basicsr, ...: none of
    their .pth files runs, so no msiagan or hook installed there is seen); its python."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(root)], check=True, capture_output=True)
    (site_packages,) = glob.glob(osp.join(str(root), 'lib', 'python*', 'site-packages'))
    for wheel in wheels:
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target',
                        site_packages, str(wheel)], check=True, capture_output=True)
    shared = [path for path in sys.path if osp.basename(path) in ('site-packages', 'dist-packages')]
    shared += [path for path in (sysconfig.get_path('purelib'), sysconfig.get_path('platlib')) if path not in shared]
    with open(osp.join(site_packages, 'zz_shared_site_packages.pth'), 'w') as f:
        f.write(''.join(f'{path}\n' for path in shared))
    return osp.join(str(root), 'bin', 'python')


def venv_env(**variables):
    """os.environ for a make_venv interpreter: without PYTHONPATH (this checkout), MSIAGAN_ROOT and
    MSIAGAN_BASICSR_HOOK, plus ``variables``."""
    env = {name: value for name, value in os.environ.items()
           if name not in ('PYTHONPATH', 'MSIAGAN_ROOT', 'MSIAGAN_BASICSR_HOOK')}
    return {**env, 'PYTHONUNBUFFERED': '1', **variables}


def unit_scale_generator(act, num_feat=16, **options):
    """A seeded generator whose features keep about unit scale, so that every conv shows in the output."""
    torch.manual_seed(0)
    return unit_scale(MSIAGenerator(num_feat=num_feat, act=act, **options).eval())


def unit_scale(net):
    """net with its convs' weights drawn so that features keep about unit scale."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                fan_in = module.weight.shape[0] if module.transposed else module.weight[0].numel()
                module.weight.normal_(0, fan_in ** -0.5)
                module.bias.uniform_(-0.1, 0.1)
    return net


def wake_global_parts(net):
    """Give the zero-initialised last layers of net's global parts (global_context, global_branch,
    exposure_condition) random weights, so that what the whole image sets, and a given exposure, show in the output."""
    seeded = torch.Generator().manual_seed(1)  # leaves the global random state alone
    with torch.no_grad():
        for part in (net.context, net.global_branch, getattr(net, 'exposure_condition', None)):
            if part is not None:
                part.mlp[-1].weight.normal_(0, part.mlp[-1].in_features ** -0.5, generator=seeded)
                part.mlp[-1].bias.uniform_(-0.1, 0.1, generator=seeded)
    return net


def recommended_generator(num_feat=8):
    """The generator of options/train/recommended_gan_lol.yml at ``num_feat``: seeded, unit scale, global parts awake."""
    with open(osp.join(REPO, 'options', 'train', 'recommended_gan_lol.yml')) as f:
        network_opt = yaml.safe_load(f)['network_g']
    torch.manual_seed(0)
    return wake_global_parts(unit_scale(build_network({**network_opt, 'num_feat': num_feat}).eval()))


def write_pairs(root, stems, size=(48, 40), lq_ext='.png', gt_ext='.png', seed=0):
    """Write random reference images and their 1/8-brightness inputs to root/{low,high}; return the folders.

    size is (width, height). The input of a pair is exactly gt // 8, so crops can be checked for alignment.
    """
    rng = np.random.default_rng(seed)
    lq_dir, gt_dir = osp.join(root, 'low'), osp.join(root, 'high')
    os.makedirs(lq_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    for stem in stems:
        gt = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        assert cv2.imwrite(osp.join(lq_dir, stem + lq_ext), gt // 8)
        assert cv2.imwrite(osp.join(gt_dir, stem + gt_ext), gt)
    return lq_dir, gt_dir


@pytest.fixture
def pairs(tmp_path):
    """Folders of three 48x40 pairs: .png inputs, .jpg references, as in the shared LOL-v1 copy."""
    return write_pairs(str(tmp_path / 'pairs'), ['1', '10', '2'], gt_ext='.jpg')


def tiny_train_options(name, train_dirs, val_dirs, total_iter=4, **train_overrides):
    """Options of a CPU training run small enough for a test: a 16-channel generator, 32x32 crops."""
    return {
        'name': name,
        'model_type': 'MSIAGANModel',
        'scale': 1,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'tiny_train', 'type': 'PairedLowLightDataset', 'dataroot_lq': train_dirs[0],
                'dataroot_gt': train_dirs[1], 'io_backend': {'type': 'disk'}, 'gt_size': 32, 'use_hflip': True,
                'use_rot': True, 'num_worker_per_gpu': 0, 'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 2
            },
            'val': {
                'name': 'tiny_val', 'type': 'PairedLowLightDataset', 'dataroot_lq': val_dirs[0],
                'dataroot_gt': val_dirs[1], 'io_backend': {'type': 'disk'}
            },
        },
        'network_g': {'type': 'MSIAGenerator', 'num_feat': 16, 'act': 'lrelu'},
        'network_d': {'type': 'PatchGANDiscriminator', 'num_in_ch': 6, 'num_feat': 16},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'ema_decay': 0.9,
            'optim_g': {'type': 'Adam', 'lr': 1e-3},
            'optim_d': {'type': 'Adadelta', 'lr': 1.0, 'rho': 0.95, 'eps': 1e-7},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [1000000], 'gamma': 1.0},
            'total_iter': total_iter,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 30.0},
            'mac_opt': {'type': 'MACLoss', 'loss_weight': 30.0, 'scales': [7]},
            'ssim_opt': {'type': 'SSIMLoss', 'loss_weight': 20.0},
            'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 1.0},
            **train_overrides,
        },
        'val': {
            'val_freq': 2,
            'save_img': False,
            'metrics': {
                'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False},
                'ssim': {'type': 'calculate_ssim', 'crop_border': 0, 'test_y_channel': False},
            },
        },
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': False},
    }


def write_options(path, options):
    with open(path, 'w') as f:
        yaml.safe_dump(options, f)
    return str(path)


def run_entry(script, root, *args):
    """Run msiagan/<script>.py with experiments/ and results/ under ``root``; return the CompletedProcess."""
    env = dict(os.environ, MSIAGAN_ROOT=str(root), PYTHONUNBUFFERED='1')
    return subprocess.run([sys.executable, osp.join(REPO, 'msiagan', f'{script}.py'), *args],
                          cwd=str(root), env=env, capture_output=True, text=True, timeout=600)


def load_script(name):
    """The module scripts/<purpose>/<name>.py, imported from its file (scripts/ is not a package)."""
    (path,) = glob.glob(osp.join(REPO, 'scripts', '*', f'{name}.py'))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(module, *args):
    """Call ``module.main`` (a script from load_script) with ``args``; return the one-line error it exits with,
    or None when it succeeds."""
    try:
        module.main([str(arg) for arg in args])
    except SystemExit as stop:
        return str(stop.code)
    return None


def start_training(root, options, runner=(), *args, new_session=False):
    """Popen of ``python [runner] msiagan/train.py -opt options args`` with experiments under ``root``, one thread
    per process (so that runs compare bit for bit), stdout and stderr together; ``new_session``: in a process group
    of its own (to signal as a whole)."""
    env = dict(os.environ, MSIAGAN_ROOT=str(root), PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    return subprocess.Popen([sys.executable, *runner, osp.join(REPO, 'msiagan', 'train.py'), '-opt', options, *args],
                            cwd=str(root), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=new_session, preexec_fn=ctrl_c_as_in_a_terminal)


def ctrl_c_as_in_a_terminal():
    """SIGINT back to its default in a training the tests start, so that Python turns it into KeyboardInterrupt as
    for a run in a terminal's foreground: a shell starts a background job (pytest run with '&', as CI scripts may)
    with SIGINT ignored, and its children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finished_output(process, timeout=300):
    """The output of a process from start_training once it has ended. One still running after ``timeout`` seconds
    is terminated (torchrun passes that on to its workers) and the test fails."""
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        process.terminate()
        pytest.fail(f'still running after {timeout} s:\n{process.communicate()[0][-3000:]}')


def resumable_options(root, name, total_iter, fast=False):
    """Options file of a run to stop and resume: 6 pairs of 40x40, random 32x32 crops with flips and rotations,
    batch 2: 3 steps an epoch, so states every 2 steps fall inside epochs; validation every 4 steps; data loaded in
    the training process (num_worker_per_gpu 0). ``fast``: through the fast path (cached data, channels_last, bf16,
    G a crop at a time)."""
    train_dirs = write_pairs(str(root / 'train'), [f'{i}' for i in range(6)], size=(40, 40))
    val_dirs = write_pairs(str(root / 'val'), ['v'], size=(32, 32), seed=1)
    fast_options = dict(channels_last=True, mixed_precision='bf16', generator_chunk=1) if fast else {}
    opt = tiny_train_options(name, train_dirs, val_dirs, total_iter=total_iter, **fast_options)
    opt['datasets']['train']['dataset_enlarge_ratio'] = 1
    opt['datasets']['train']['cache'] = 'memory' if fast else None
    opt['val']['val_freq'] = 4
    return write_options(root / f'{name}.yml', opt)


def saved_networks(root, name):
    """The final G and D (``<net>_latest.pth``) of run ``name`` under ``root``."""
    return {net: torch.load(root / 'experiments' / name / 'models' / f'{net}_latest.pth', weights_only=True)
            for net in ('net_g', 'net_d')}


def wait_for_first_state(process, root, options):
    """Return once training ``options`` under ``root`` (``process``) has a training state on disk, or has ended."""
    states_dir = root / 'experiments' / osp.splitext(osp.basename(options))[0] / 'training_states'
    deadline = time.monotonic() + 300
    while not glob.glob(str(states_dir / '*.state')) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def signalled_after_first_state(root, options, *signal_numbers):
    """Start training ``options`` under ``root``, send it ``signal_numbers`` in turn once its first training state is
    on disk; (the ended process, its output)."""
    process = start_training(root, options)
    wait_for_first_state(process, root, options)
    for signal_number in signal_numbers:
        process.send_signal(signal_number)
    return process, process.communicate()[0]


def make_dataset(lq, gt, phase='val', backend='disk', **options):
    """A PairedLowLightDataset over lq/gt folders (or .lmdb files with backend='lmdb')."""
    return PairedLowLightDataset({'phase': phase, 'dataroot_lq': str(lq), 'dataroot_gt': str(gt),
                                  'io_backend': {'type': backend}, **options})


def make_model(tmp_path, network_d=None, network_g=None, path=None, train_set=None, **train_overrides):
    """An MSIAGANModel on the CPU from ``tiny_train_options`` (``path`` updates its path options, ``train_set`` its
    training dataset's), built as BasicSR's trainer builds it."""
    opt = tiny_train_options('unit', ('lq', 'gt'), ('lq', 'gt'), **train_overrides)
    opt['datasets']['train'].update(train_set or {})
    opt['network_d'] = network_d or opt['network_d']
    opt['network_g'] = network_g or opt['network_g']
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path=str(tmp_path))
    opt['path'].update(models=str(tmp_path / 'models'), training_states=str(tmp_path / 'states'), **(path or {}))
    return build_model(opt)


def enhanced_uint8(net, bgr):
    """``net`` on a uint8 (H, W, 3) BGR image, as the scripts should run it: RGB in [0, 1], output clamped to
    [0, 1] and rounded to uint8 BGR. Computed here apart from msiagan.inference, to check the scripts by."""
    x = torch.from_numpy(bgr[..., ::-1].transpose(2, 0, 1) / 255).float()[None]
    with torch.no_grad():
        out = net(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return np.round(out[..., ::-1] * 255).astype(np.uint8)


def psnr_uint8(img, reference):
    """PSNR in dB of two uint8 images, by its definition (peak 255)."""
    mse = np.mean((img.astype(np.float64) - reference.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / mse)


def feed(model, size=32):
    """Feed a seeded batch of 2: references in [0, 1], inputs at 1/8 of them."""
    torch.manual_seed(0)
    gt = torch.rand(2, 3, size, size)
    model.feed_data({'lq': gt / 8, 'gt': gt})


def no_space_error(source=None, target=None):
    """The OSError of a write to a full disk (shutil's names the file copied and the target)."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), source, None, target)


class FullDiskOpen:
    """A stand-in for ``open``: a file opened for writing whose path contains one of ``names``, once ``after``
    such files were opened, takes half of the first data written to it, then the write fails as on a full disk.
    ``failed`` lists the paths of those that failed."""

    def __init__(self, *names, after=0):
        self.names = names
        self.after = after
        self.failed = []

    def __call__(self, file, mode='r', *args, **kwargs):
        opened = io.open(file, mode, *args, **kwargs)  # the real one, also where builtins.open is this
        if mode.startswith('r') or not any(name in str(file) for name in self.names):
            return opened
        if self.after:
            self.after -= 1
            return opened
        self.failed.append(str(file))
        return HalfWrittenFile(opened)


class HalfWrittenFile:
    """A file object whose ``write`` writes half of its data, then raises the OSError of a full disk."""

    def __init__(self, file):
        self.file = file

    def write(self, data):
        data = data if isinstance(data, str) else memoryview(data).cast('B')
        self.file.write(data[:len(data) // 2])
        self.file.flush()
        raise no_space_error()

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()


NETWORK = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu'}


@pytest.fixture
def checkpoint(tmp_path):
    """A BasicSR-style checkpoint of a tiny generator (params and params_ema differ) with its options beside it."""
    torch.manual_seed(0)
    params, params_ema = (MSIAGenerator(num_feat=8, act='lrelu').state_dict() for _ in range(2))
    weights = tmp_path / 'net.pth'
    torch.save({'params': params, 'params_ema': params_ema}, weights)
    with open(tmp_path / 'net.yml', 'w') as f:
        yaml.safe_dump({'network_g': NETWORK}, f)
    return str(weights)


def run_enhance(*args):
    """msiagan-enhance with ``args``; its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        enhance_main(list(args))
        raise SystemExit(0)
    return exit_info.value.code
