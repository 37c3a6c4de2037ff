"""The import hook (msiagan_basicsr_hook.pth): where msiagan is installed, ``import basicsr`` works with nothing
imported first and BasicSR's registries hold ours; starting Python imports neither torch nor basicsr;
MSIAGAN_BASICSR_HOOK=0 turns it off; a broken install warns once and leaves BasicSR alone. Each check runs a fresh
interpreter of a throwaway virtual environment that holds a wheel (or the editable wheel) built from a copy of this
checkout, so that it depends on no hook installed where the tests run."""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from glob import glob
from os import path as osp

import pytest
from conftest import HOOK_FILES, REPO, copy_checkout, make_venv, venv_env

PTH = 'msiagan_basicsr_hook.pth'
OURS = ('msiagan', 'msiagan_basicsr_hook')
LOADED = ("import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'basicsr', *{ours}))); "
          "print([type(finder).__name__ for finder in sys.meta_path])").format(ours=OURS)


@pytest.fixture(scope='module')
def python(tmp_path_factory, msiagan_wheel):
    """The python of a virtual environment with the wheel installed."""
    return make_venv(tmp_path_factory.mktemp('venv') / 'venv', msiagan_wheel)


def run(python, code, **variables):
    """``python -c code`` from the virtual environment's folder (not this checkout, which -c would put first on
    sys.path)."""
    return subprocess.run([python, '-c', code], cwd=osp.dirname(osp.dirname(python)), env=venv_env(**variables),
                          capture_output=True, text=True, timeout=300)


def record_lines(archive):
    (record,) = [name for name in archive.namelist() if name.endswith('.dist-info/RECORD')]
    return {line.split(',')[0]: line for line in archive.read(record).decode().splitlines()}


def assert_recorded(archive, name):
    """``name`` is in the wheel and its RECORD line (what uninstalling removes) has its hash and size."""
    data = archive.read(name)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    assert record_lines(archive)[name] == f'{name},sha256={digest},{len(data)}'


def test_the_wheel_carries_the_hook_at_its_root(msiagan_wheel):
    with zipfile.ZipFile(msiagan_wheel) as archive:
        for name in HOOK_FILES:
            with open(osp.join(REPO, name), 'rb') as f:
                assert archive.read(name) == f.read(), name
            assert_recorded(archive, name)


def test_starting_python_loads_the_hook_only(python):
    result = run(python, LOADED)
    assert result.returncode == 0 and result.stderr == '', result.stderr
    loaded, finders = result.stdout.splitlines()
    assert loaded == "['msiagan_basicsr_hook']"  # neither torch, nor basicsr, nor msiagan
    assert finders.startswith("['BasicSRFinder'")


def test_import_basicsr_first_registers_ours(python):
    code = '''
import sys
import basicsr
from basicsr.utils import registry
import msiagan, msiagan_basicsr_hook
net = registry.ARCH_REGISTRY.get('MSIAGenerator')(num_feat=8)
print(type(net).__module__, msiagan.__file__)
for name, names in (('ARCH', 'MSIAGenerator PatchGANDiscriminator RRDBNet'), ('LOSS', 'MACLoss SSIMLoss L1Loss'),
                    ('MODEL', 'MSIAGANModel SRModel'), ('DATASET', 'PairedLowLightDataset PairedImageDataset'),
                    ('METRIC', 'calculate_psnr_gtmean calculate_psnr')):
    assert all(n in getattr(registry, name + '_REGISTRY') for n in names.split()), name
assert type(basicsr.__loader__).__name__ == 'SourceFileLoader' and basicsr.__spec__.loader is basicsr.__loader__
assert not any(isinstance(f, msiagan_basicsr_hook.BasicSRFinder) for f in sys.meta_path)
'''
    result = run(python, code)
    assert result.returncode == 0, result.stderr[-3000:]
    module, msiagan_file = result.stdout.split()
    assert module == 'msiagan.archs.msia_generator_arch'
    assert msiagan_file.startswith(osp.dirname(osp.dirname(python)))  # the venv's msiagan, not the checkout's


@pytest.mark.parametrize('value', ['0', 'off'])
def test_msiagan_basicsr_hook_0_loads_nothing_of_ours(python, value):
    code = 'try:\n import basicsr\nexcept ImportError as error:\n print(error)\n' + LOADED
    result = run(python, code, MSIAGAN_BASICSR_HOOK=value)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(name in result.stdout for name in (*OURS, 'BasicSRFinder'))


def test_a_hook_without_its_module_warns_once_and_python_runs(tmp_path, python):
    site_packages = osp.dirname(glob(osp.join(osp.dirname(osp.dirname(python)), 'lib', '*', 'site-packages',
                                              PTH))[0])
    broken = make_venv(tmp_path / 'venv')
    (broken_site,) = glob(str(tmp_path / 'venv' / 'lib' / '*' / 'site-packages'))
    shutil.copy(osp.join(site_packages, PTH), broken_site)  # the .pth of an uninstalled or moved msiagan
    result = run(broken, 'print("runs")')
    assert result.returncode == 0 and result.stdout == 'runs\n'
    warnings = [line for line in result.stderr.splitlines() if 'Warning' in line]
    assert len(warnings) == 1 and 'the BasicSR hook is ignored' in warnings[0], result.stderr


def test_a_broken_msiagan_warns_once_and_basicsr_imports(tmp_path, python):
    """An msiagan that fails at import (a stale install): ``import basicsr`` works, with one warning."""
    (site_packages,) = glob(osp.join(osp.dirname(osp.dirname(python)), 'lib', '*', 'site-packages'))
    broken = make_venv(tmp_path / 'venv')
    (broken_site,) = glob(str(tmp_path / 'venv' / 'lib' / '*' / 'site-packages'))
    for name in HOOK_FILES:
        shutil.copy(osp.join(site_packages, name), broken_site)
    os.makedirs(osp.join(broken_site, 'msiagan'))
    with open(osp.join(broken_site, 'msiagan', '__init__.py'), 'w') as f:
        f.write('raise RuntimeError("broken on purpose")\n')
    result = run(broken, 'import basicsr, basicsr.train; print(basicsr.__version__)')
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == '1.4.2\n'
    warnings = [line for line in result.stderr.splitlines() if 'Warning' in line]
    assert len(warnings) == 1 and 'import msiagan failed (RuntimeError: broken on purpose)' in warnings[0]


def test_the_editable_wheel_carries_the_hook_and_runs_the_source(tmp_path):
    """What ``pip install -e .`` builds (setuptools' PEP 660 backend): the .pth at the wheel's root, recorded; the
    hook it starts is the source's."""
    source = copy_checkout(str(tmp_path / 'source'))
    build = subprocess.run([sys.executable, '-c', 'import setuptools.build_meta as backend, sys; '
                            'print(backend.build_editable(sys.argv[1]))', str(tmp_path / 'dist')],
                           cwd=source, env=venv_env(), capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = tmp_path / 'dist' / build.stdout.split()[-1]
    with zipfile.ZipFile(wheel) as archive:
        with open(osp.join(REPO, PTH), 'rb') as f:
            assert archive.read(PTH) == f.read()
        assert_recorded(archive, PTH)
        assert 'msiagan_basicsr_hook.py' not in archive.namelist()  # the source's, through the editable finder
    python = make_venv(tmp_path / 'venv', wheel)
    result = run(python, 'import msiagan_basicsr_hook; print(msiagan_basicsr_hook.__file__); ' + LOADED)
    assert result.returncode == 0, result.stderr[-3000:]
    hook_file, loaded, finders = result.stdout.splitlines()
    assert hook_file == osp.join(source, 'msiagan_basicsr_hook.py')
    assert loaded == "['msiagan_basicsr_hook']" and finders.startswith("['BasicSRFinder'")


def test_the_startup_benchmark_times_the_hook_and_refuses_a_python_without_it(python, tmp_path):
    script = osp.join(REPO, 'scripts', 'benchmarks', 'benchmark_hook_startup.py')
    result = subprocess.run([sys.executable, script, '--python', python, '--runs', '2'], cwd=str(tmp_path),
                            env=venv_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert re.fullmatch(r'python -c pass, with the hook: median [\d.]+ ms, fastest [\d.]+ ms \(2 runs\)', lines[0])
    assert lines[1].startswith('python -c pass, MSIAGAN_BASICSR_HOOK=0: median ')
    assert re.fullmatch(r'difference of the medians: [+-][\d.]+ ms', lines[2])
    assert re.fullmatch(r'msiagan_basicsr_hook import \(-X importtime, cumulative\): median [\d.]+ ms', lines[3])
    bare = make_venv(tmp_path / 'bare')
    refused = subprocess.run([sys.executable, script, '--python', bare, '--runs', '1'], cwd=str(tmp_path),
                             env=venv_env(), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1 and 'starts without the hook' in refused.stderr.strip().splitlines()[-1]


def test_msiagan_without_an_importable_hook_module_takes_the_checkouts(tmp_path):
    """An editable install made before the hook existed maps msiagan only: ``import msiagan`` still works (then
    ``import basicsr``), with the hook module of the checkout beside the package."""
    (tmp_path / 'site').mkdir()
    os.symlink(osp.join(REPO, 'msiagan'), tmp_path / 'site' / 'msiagan')
    bare = make_venv(tmp_path / 'venv')
    result = subprocess.run([bare, '-c', 'import msiagan, basicsr, msiagan_basicsr_hook; '
                             'print(msiagan_basicsr_hook.__file__)'], cwd=str(tmp_path),
                            env=venv_env(PYTHONPATH=str(tmp_path / 'site')), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == osp.join(REPO, 'msiagan_basicsr_hook.py')
