"""Check an options file before BasicSR reads it: the registered ``type:`` names and the keys the code needs.

BasicSR meets an unknown ``type:`` or a missing key as a KeyError deep inside its pipeline. This check
names the option instead, as ``section:key`` (the notation of --force_yml), in a one-line InputError.
Keys it does not know are left alone, so options of other models and plugins pass.
"""
import argparse
import difflib
import inspect
from os import path as osp

import basicsr.archs  # noqa: F401  (these five fill BasicSR's registries with its own names)
import basicsr.data  # noqa: F401
import basicsr.losses  # noqa: F401
import basicsr.metrics  # noqa: F401
import basicsr.models  # noqa: F401
import numpy as np
import torch
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

from msiagan.basicsr_patches.options_file import force_yml_value, read_options_file
from msiagan.utils.errors import InputError

SCHEDULERS = ('MultiStepLR', 'MultiStepRestartLR', 'CosineAnnealingRestartLR')  # what BaseModel can build
BACKENDS = ('disk', 'lmdb')  # the io_backend types of PairedLowLightDataset


def parse_argv(argv):
    """``-opt``, ``--force_yml`` and ``--launcher`` of BasicSR's command line (other arguments are left alone)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('-opt')
    parser.add_argument('--force_yml', nargs='+', default=[])
    parser.add_argument('--launcher', default='none')
    return parser.parse_known_args(argv)[0]


def load_options(argv):
    """(options dict, file name) as BasicSR will see them from ``-opt FILE [--force_yml key:key=value ...]``.

    Returns (None, None) without -opt: BasicSR's own argument parser reports that.
    """
    args = parse_argv(argv)
    if args.opt is None:
        return None, None
    opt = read_options_file(args.opt)
    for entry in args.force_yml:
        force_option(opt, entry)
    return opt, args.opt


def force_option(opt, entry):
    """Apply one ``--force_yml key:key=value`` to ``opt`` the way BasicSR will (same value parsing, lists as
    literals: msiagan.basicsr_patches.options_file)."""
    if entry.count('=') > 1:
        raise InputError(f'--force_yml {entry}: one "=" only (BasicSR splits the entry at it)')
    keys, sep, value = entry.partition('=')
    keys = keys.strip().split(':')
    if any(char in '"\\' or not char.isprintable() for key in keys for char in key):
        raise InputError(f'--force_yml {entry}: a key may not hold quotes, backslashes or control characters '
                         '(BasicSR runs the keys as code)')
    section = opt
    for depth, key in enumerate(keys[:-1]):
        section = section.get(key) if isinstance(section, dict) else None
        if not isinstance(section, dict):
            raise InputError(f"--force_yml {entry}: there is no section {':'.join(keys[:depth + 1])}")
    if not sep:
        raise InputError(f'--force_yml {entry}: expected key:key=value')
    section[keys[-1]] = force_yml_value(value.strip())


def check_options_argv(argv, is_train):
    """Check the options file that ``argv`` (BasicSR's command line, without the program) names."""
    opt, source = load_options(argv)
    if opt is not None:
        OptionsCheck(source, is_train, parse_argv(argv).launcher).check(opt)


def join(path, key):
    """'a:b' + 'c' -> 'a:b:c'; '' + 'c' -> 'c'."""
    return f'{path}:{key}' if path else key


class OptionsCheck:
    """The checks of one options file; ``source`` names it in the errors. Paths are written 'a:b:c'.

    ``launcher`` is BasicSR's ``--launcher``: 'none' for one process, else 'pytorch' or 'slurm'.
    """

    def __init__(self, source, is_train, launcher='none'):
        self.source = source
        self.is_train = is_train
        self.launcher = launcher

    def fail(self, message):
        raise InputError(f'{self.source}: {message}')

    def require(self, section, path, keys, why=''):
        """Each of ``keys`` is set (not missing, not ~) in ``section``, the section at ``path``."""
        for key in keys:
            if section.get(key) is None:
                self.fail(f'{join(path, key)} is missing{why}')

    def section(self, parent, path, key):
        """The section ``key`` of ``parent`` (at ``path``), required."""
        self.require(parent, path, [key])
        if not isinstance(parent[key], dict):
            self.fail(f'{join(path, key)} must be a section of options, not {parent[key]!r}')
        return parent[key]

    def registered(self, name, option, registry, kind):
        """``name``, the value of ``option``, is something BasicSR's ``registry.get`` finds."""
        if isinstance(name, str) and (name in registry or f'{name}_basicsr' in registry):
            return
        known = sorted(key[:-len('_basicsr')] if key.endswith('_basicsr') else key for key in registry.keys())
        by_lower_case = {key.lower(): key for key in known}
        close = difflib.get_close_matches(str(name).lower(), by_lower_case, n=1)
        hint = f"; did you mean '{by_lower_case[close[0]]}'?" if close else f" (registered: {', '.join(known)})"
        self.fail(f"{option} '{name}' is not a registered {kind}{hint}")

    def typed(self, section, path, registry, kind):
        """``section`` (at ``path``) has a registered ``type``."""
        self.require(section, path, ['type'])
        self.registered(section['type'], join(path, 'type'), registry, kind)

    def built_from(self, section, path, registry, kind):
        """``section`` has a registered ``type``, built as ``type(**other keys)`` (networks, losses): each key
        is one of its arguments, so a misspelt one stops the run here, not as a TypeError after set-up."""
        self.typed(section, path, registry, kind)
        registered = dict(iter(registry))
        target = registered.get(section['type']) or registered[f"{section['type']}_basicsr"]
        parameters = inspect.signature(target).parameters
        if any(parameter.kind == parameter.VAR_KEYWORD for parameter in parameters.values()):
            return
        for key in section:
            if key != 'type' and key not in parameters:
                close = difflib.get_close_matches(key, parameters, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (it takes: {', '.join(parameters)})"
                self.fail(f"{join(path, key)} is not an argument of {section['type']}{hint}")

    def check(self, opt):
        """Raise an InputError naming the first option at fault."""
        self.require(opt, '', ['name', 'model_type', 'num_gpu', 'network_g'])
        self.check_num_gpu(opt['num_gpu'], self.section(opt, '', 'dist_params') if opt.get('dist_params') else {})
        self.section(opt, '', 'path')
        self.registered(opt['model_type'], 'model_type', MODEL_REGISTRY, 'model')
        for key in ('pretrain_network_g', 'pretrain_network_d', 'resume_state'):
            file = opt['path'].get(key)
            if file is not None and not (isinstance(file, str) and osp.isfile(osp.expanduser(file))):
                self.fail(f'path:{key} {file}: file does not exist')
        for net in ('network_g', 'network_d'):
            if net in opt:
                self.built_from(self.section(opt, '', net), net, ARCH_REGISTRY, 'arch')
        self.check_datasets(self.section(opt, '', 'datasets'))
        if self.is_train:
            self.check_train(self.section(opt, '', 'train'))
            logger = self.section(opt, '', 'logger')
            self.require(logger, 'logger', ['print_freq', 'save_checkpoint_freq'])
            tb_images = logger.get('tb_images', 0)
            if not (isinstance(tb_images, int) and not isinstance(tb_images, bool) and tb_images >= 0):
                self.fail(f'logger:tb_images {tb_images!r}: must be a number of validation images, 0 or more')
        else:
            self.check_test(opt)
        if opt.get('val') is not None:
            self.check_val(self.section(opt, '', 'val'), opt['datasets'])

    def check_datasets(self, datasets):
        if not datasets:
            self.fail('datasets has no dataset')
        if self.is_train:
            self.section(datasets, 'datasets', 'train')
        for phase in datasets:
            path = join('datasets', phase)
            dataset = self.section(datasets, 'datasets', phase)
            if self.is_train and phase != 'train' and phase.split('_')[0] != 'val':
                self.fail(f"{path}: a training run takes the datasets 'train' and 'val' or 'val_<n>'")
            self.require(dataset, path, ['name'])
            self.typed(dataset, path, DATASET_REGISTRY, 'dataset')
            if phase == 'train':
                self.require(dataset, path, ['batch_size_per_gpu', 'num_worker_per_gpu'])
            if dataset['type'] == 'PairedLowLightDataset':
                self.require(dataset, path, ['dataroot_lq', 'dataroot_gt'])
                backend = self.section(dataset, path, 'io_backend').get('type')
                if backend not in BACKENDS:
                    self.fail(f"{path}:io_backend:type {backend!r} is not one of {', '.join(BACKENDS)}")

    def numbers(self, section, path):
        """No value of ``section`` is a number that YAML read as text (``1e-4``: PyYAML needs ``1.0e-4``)."""
        for key, value in section.items():
            if key != 'type' and isinstance(value, str):
                try:
                    number = float(value)
                except ValueError:
                    continue
                # a plain decimal where it is short: YAML and --force_yml (BasicSR reads only digits and a dot
                # there) both take it; else PyYAML's form, which needs a dot (1.0e+30)
                text = np.format_float_positional(number, trim='-') if 1e-8 <= abs(number) < 1e8 else repr(number)
                if 'e' in text and '.' not in text:
                    text = text.replace('e', '.0e')
                self.fail(f"{join(path, key)} {value!r} is text, not a number, to YAML: write {text} "
                          f"(or !!float {value})")

    def check_train(self, train):
        self.require(train, 'train', ['total_iter'])
        scheduler = self.section(train, 'train', 'scheduler')
        if scheduler.get('type') not in SCHEDULERS:
            self.fail(f"train:scheduler:type {scheduler.get('type')!r} is not one of {', '.join(SCHEDULERS)}")
        self.numbers(scheduler, 'train:scheduler')
        self.require(self.section(train, 'train', 'optim_g'), 'train:optim_g', ['type'])
        self.numbers({key: value for key, value in train.items() if not isinstance(value, dict)}, 'train')
        for key, section in train.items():
            if key.startswith('optim_') and isinstance(section, dict):
                self.numbers(section, join('train', key))
            if key.endswith('_opt') and section is not None:
                self.built_from(self.section(train, 'train', key), join('train', key), LOSS_REGISTRY, 'loss')
                self.numbers(section, join('train', key))

    def check_num_gpu(self, num_gpu, dist_params):
        """'auto', 0, or no more CUDA GPUs than this machine has (BasicSR would fail on the first .cuda()).

        0 under a launcher needs the GPUs hidden: the process group of a machine with CUDA is NCCL's, which cannot
        join networks on the CPU (unless --launcher slurm is given ``dist_params: backend: gloo``)."""
        gloo = self.launcher == 'slurm' and dist_params.get('backend') == 'gloo'
        if num_gpu == 0 and self.launcher != 'none' and torch.cuda.is_available() and not gloo:
            self.fail(f'num_gpu 0 with --launcher {self.launcher} on a machine with CUDA GPUs: set num_gpu: auto to '
                      'train on the GPUs, or hide them (CUDA_VISIBLE_DEVICES=) to train on the CPUs')
        if num_gpu == 'auto' or num_gpu == 0:
            return
        if not isinstance(num_gpu, int) or num_gpu < 0:
            self.fail(f'num_gpu {num_gpu!r}: must be auto or a number of GPUs')
        if num_gpu > torch.cuda.device_count():
            self.fail(f'num_gpu {num_gpu}: this machine has {torch.cuda.device_count()} CUDA GPU(s); use auto or 0')

    def check_test(self, opt):
        self.require(opt['path'], 'path', ['pretrain_network_g'], ' (testing needs trained weights)')
        val = self.section(opt, '', 'val')
        self.require(val, 'val', ['save_img'])
        if val['save_img'] and 'suffix' not in val:
            self.fail('val:suffix is missing (~ for none)')

    def check_val(self, val, datasets):
        if self.is_train and any(phase != 'train' for phase in datasets):
            self.require(val, 'val', ['val_freq'])
        metrics = self.section(val, 'val', 'metrics') if val.get('metrics') is not None else {}
        for name in metrics:
            path = join('val:metrics', name)
            self.typed(self.section(metrics, 'val:metrics', name), path, METRIC_REGISTRY, 'metric')
