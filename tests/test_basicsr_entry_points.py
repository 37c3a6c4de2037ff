"""BasicSR's own commands run ours where msiagan is installed: ``python -m basicsr.train`` trains and resumes as
msiagan/train.py does, with experiments/ in msiagan's root folder (not in BasicSR's site-packages folder), a copy of
BasicSR's train.py run as a script takes msiagan's flags, ``python -m basicsr.test`` tests; other callers of
BasicSR's ``parse_options`` get BasicSR's. The commands run in a throwaway virtual environment holding a wheel of this
checkout (conftest.make_venv)."""
import glob
import re
import shutil
import subprocess
import sys
import types
from os import path as osp

import basicsr
import pytest
import yaml
from basicsr.utils import options as basicsr_options
from conftest import REPO, make_venv, venv_env, write_options, write_pairs

import msiagan.test
import msiagan.train

DEMO = osp.join(REPO, 'options', 'demo.yml')
TINY = ['datasets:train:gt_size=32', 'datasets:train:batch_size_per_gpu=2', 'datasets:train:num_worker_per_gpu=0',
        'datasets:train:dataset_enlarge_ratio=1', 'train:scheduler:periods=[4]', 'val:val_freq=2',
        'logger:save_checkpoint_freq=2', 'logger:print_freq=1']  # the demo, a few iterations on tiny images


def pipeline_in(module_name, file, function):
    """BasicSR's ``function`` ('train_pipeline' or 'test_pipeline') as defined in a module named ``module_name``
    from ``file``: it calls ``parse_options`` and returns what it gives."""
    module = types.ModuleType(module_name)
    module.__file__ = file
    exec(f'def {function}(root_path):\n    return parse_options(root_path, {function == "train_pipeline"})',
         vars(module))
    module.parse_options = basicsr_options.parse_options
    return module, getattr(module, function)


@pytest.mark.parametrize('function, entry', [('train_pipeline', msiagan.train), ('test_pipeline', msiagan.test)])
def test_basicsrs_own_script_as_main_hands_over(monkeypatch, tmp_path, function, entry):
    ran = []
    monkeypatch.setattr(entry, 'main', lambda: ran.append(function))
    script = 'train.py' if function == 'train_pipeline' else 'test.py'
    main, pipeline = pipeline_in('__main__', str(tmp_path / 'BasicSR' / 'basicsr' / script), function)
    monkeypatch.setitem(sys.modules, '__main__', main)
    with pytest.raises(SystemExit) as stop:
        pipeline(str(tmp_path))
    assert stop.value.code == 0 and ran == [function]


@pytest.mark.parametrize('name, file', [
    ('__main__', 'realesrgan/train.py'),  # another project's train.py, its own train_pipeline
    ('basicsr.train', 'basicsr/train.py'),  # BasicSR's module imported, not run: msiagan/train.py, realesrgan
])
def test_other_callers_get_basicsrs_parse_options(monkeypatch, capsys, tmp_path, name, file):
    monkeypatch.setattr(msiagan.train, 'main', lambda: pytest.fail('handed over'))
    main, pipeline = pipeline_in(name, str(tmp_path / file), 'train_pipeline')
    if name == '__main__':
        monkeypatch.setitem(sys.modules, '__main__', main)
    monkeypatch.setattr(sys, 'argv', ['train.py', '-h'])
    with pytest.raises(SystemExit) as stop:
        pipeline(str(tmp_path))
    assert stop.value.code == 0
    assert '--auto_resume' in capsys.readouterr().out  # BasicSR's argument parser


@pytest.fixture(scope='module')
def python(tmp_path_factory, msiagan_wheel):
    return make_venv(tmp_path_factory.mktemp('venv') / 'venv', msiagan_wheel)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    """A folder with datasets/demo (the demo options' paths): two training pairs, one validation pair."""
    root = tmp_path_factory.mktemp('demo')
    write_pairs(str(root / 'datasets' / 'demo' / 'train'), ['a', 'b'], size=(40, 40))
    write_pairs(str(root / 'datasets' / 'demo' / 'val'), ['v'], size=(32, 32), seed=1)
    return root


def run(python, args, cwd):
    return subprocess.run([python, *args], cwd=str(cwd), env=venv_env(OMP_NUM_THREADS='1'), capture_output=True,
                          text=True, timeout=600)


def newest_log(experiment):
    return open(max(glob.glob(str(experiment / 'train_*.log')), key=osp.getmtime)).read()


def test_python_m_basicsr_train_trains_and_resumes_in_msiagans_root(python, demo_root):
    basicsr_root = osp.dirname(osp.dirname(basicsr.__file__))  # where BasicSR's own train.py would write
    result = run(python, ['-m', 'basicsr.train', '-opt', DEMO, '--force_yml', *TINY, 'train:total_iter=2'], demo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = demo_root / 'experiments' / 'demo'
    assert sorted(osp.basename(f) for f in glob.glob(str(experiment / 'models' / '*'))) == \
        ['net_d_2.pth', 'net_d_latest.pth', 'net_g_2.pth', 'net_g_latest.pth']
    assert not osp.exists(osp.join(basicsr_root, 'experiments', 'demo'))
    result = run(python, ['-m', 'basicsr.train', '-opt', DEMO, '--auto_resume', '--force_yml', *TINY,
                          'train:total_iter=4'], demo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    log = newest_log(experiment)
    assert re.search(r'Resuming training from epoch: \d+, iter: 2\.', log)
    assert re.search(r'iter:\s+3,', log) and not re.search(r'iter:\s+[12],', log)
    assert (experiment / 'models' / 'net_g_4.pth').is_file()


def test_basicsrs_train_py_as_a_script_takes_our_flags_and_input_checks(python, demo_root, tmp_path):
    """``python basicsr/train.py`` from a BasicSR clone (a copy of the installed file), run from another folder."""
    clone = tmp_path / 'BasicSR' / 'basicsr'
    clone.mkdir(parents=True)
    shutil.copy(osp.join(osp.dirname(basicsr.__file__), 'train.py'), clone)
    quiet = run(python, [str(clone / 'train.py'), '-opt', DEMO, '--quiet', '--force_yml', *TINY, 'name=demo_quiet',
                         'train:total_iter=2'], demo_root)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert re.search(r'^iter 2/2 \(100%\)', quiet.stdout, re.M) and 'Version Information' not in quiet.stdout
    assert (demo_root / 'experiments' / 'demo_quiet' / 'models' / 'net_g_latest.pth').is_file()
    assert not (tmp_path / 'BasicSR' / 'experiments').exists()  # BasicSR's root: the clone
    bad = run(python, [str(clone / 'train.py'), '-opt', 'missing.yml'], demo_root)
    assert bad.returncode == 1 and 'Traceback' not in bad.stderr
    assert re.fullmatch(r'msiagan-train: error: .*missing\.yml.*', bad.stderr.strip())


def test_python_m_basicsr_test_tests_in_msiagans_root(python, demo_root):
    options = {
        'name': 'demo_test', 'model_type': 'MSIAGANModel', 'scale': 1, 'num_gpu': 0, 'manual_seed': 0,
        'datasets': {'test_1': {'name': 'demo_val', 'type': 'PairedLowLightDataset',
                                'dataroot_lq': 'datasets/demo/val/low', 'dataroot_gt': 'datasets/demo/val/high',
                                'io_backend': {'type': 'disk'}}},
        'network_g': yaml.safe_load(open(osp.join(REPO, 'msiagan', 'weights', 'msiagan_lol_v1.yml')))['network_g'],
        'path': {'pretrain_network_g': osp.join(REPO, 'msiagan', 'weights', 'msiagan_lol_v1.pth'),
                 'param_key_g': 'params', 'strict_load_g': True},
        'val': {'save_img': True, 'suffix': None,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}}},
    }
    result = run(python, ['-m', 'basicsr.test', '-opt', write_options(demo_root / 'test.yml', options)], demo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (demo_root / 'results' / 'demo_test' / 'visualization' / 'demo_val' / 'v_demo_test.png').is_file()
