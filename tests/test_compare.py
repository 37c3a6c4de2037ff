"""scripts/metrics/compare.py on two tiny models."""
import csv
import os
import subprocess
import sys
from os import path as osp

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.archs import build_network
from basicsr.metrics import calculate_ssim
from conftest import REPO, enhanced_uint8, load_script, psnr_uint8, write_pairs

from msiagan.archs import MSIAGenerator
from msiagan.metrics import calculate_brightness_error, calculate_psnr_gtmean, calculate_ssim_gtmean
from msiagan.utils.entry import run_cli


def test_compare_two_models(tmp_path):
    data = tmp_path / 'data'
    write_pairs(str(data), ['a', 'b'], size=(40, 32))
    torch.manual_seed(0)
    torch.save({'params': MSIAGenerator(num_feat=8, act='lrelu').state_dict()}, tmp_path / 'small.pth')
    (tmp_path / 'small.yml').write_text(yaml.safe_dump({'network_g': {'type': 'MSIAGenerator', 'num_feat': 8,
                                                                      'act': 'lrelu'}}))
    torch.save(MSIAGenerator().state_dict(), tmp_path / 'paper.pth')
    out = tmp_path / 'out'
    result = subprocess.run([
        sys.executable, osp.join(REPO, 'scripts', 'metrics', 'compare.py'), '--data', str(data), '--out', str(out),
        '--model', 'small', str(tmp_path / 'small.yml'), str(tmp_path / 'small.pth'),
        '--model', 'paper', 'MSIAGenerator', str(tmp_path / 'paper.pth'),
        '--images', 'a', 'b', '--repeats', '1', '--device', 'cpu', '--grid-scale', '0.5'
    ], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(open(out / 'compare.csv')))
    assert [row['model'] for row in rows] == ['small', 'paper']
    assert float(rows[1]['params (M)']) == 0.666371
    assert abs(float(rows[1]['GMAC @256x256']) - 7.03) < 0.01
    nets = {'small': MSIAGenerator(num_feat=8, act='lrelu'), 'paper': MSIAGenerator()}
    nets['small'].load_state_dict(torch.load(tmp_path / 'small.pth', weights_only=True)['params'])
    nets['paper'].load_state_dict(torch.load(tmp_path / 'paper.pth', weights_only=True))
    for row in rows:  # each model's own outputs, scored apart from compare.py
        scores = []
        for stem in ('a', 'b'):
            low, high = (cv2.imread(str(data / folder / f'{stem}.png')) for folder in ('low', 'high'))
            output = enhanced_uint8(nets[row['model']].eval(), low)
            scores.append([psnr_uint8(output, high), calculate_ssim(output, high, 0),
                           calculate_psnr_gtmean(output, high, 0), calculate_ssim_gtmean(output, high, 0),
                           calculate_brightness_error(output, high)])
        expected = np.mean(scores, axis=0)
        for column, value in zip(('PSNR', 'SSIM', 'PSNR (GT-mean)', 'SSIM (GT-mean)', 'brightness error'), expected):
            assert float(row[column]) == pytest.approx(value, rel=1e-3), (row['model'], column)
        assert float(row['CPU ms @600x400 (2 threads)']) > 0
    assert abs(float(rows[0]['PSNR']) - float(rows[1]['PSNR'])) > 0.1  # the two models score apart
    markdown = (out / 'compare.md').read_text()
    assert markdown.startswith('| model | exposure handling | PSNR | SSIM | PSNR (GT-mean) | SSIM (GT-mean) |')
    assert [row['exposure handling'] for row in rows] == ['no range', 'no range']  # no range beside the weights
    grid = cv2.imread(str(out / 'grid_a.png'))
    assert grid.shape[1] == 4 * 20 + 3 * 4  # input | small | paper | reference at half size, 4-pixel gaps
    assert (out / 'grid_b.png').is_file()


def test_orientations_score_the_outputs_of_mirrored_and_turned_inputs_turned_back(tmp_path):
    data = tmp_path / 'data'
    write_pairs(str(data), ['a', 'b'], size=(40, 32))
    torch.manual_seed(0)
    net = MSIAGenerator(num_feat=8, act='lrelu', global_branch=True)
    torch.nn.init.normal_(net.global_branch.mlp[-1].weight, std=0.5)  # awake: its features depend on the view
    torch.save({'params': net.state_dict()}, tmp_path / 'net.pth')
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': {'type': 'MSIAGenerator', 'num_feat': 8,
                                                                    'act': 'lrelu', 'global_branch': True}}))
    compare = load_script('compare')
    pairs = compare.paired_paths_from_root(str(data))
    enhancer = compare.Enhancer(str(tmp_path / 'net.pth'), str(tmp_path / 'net.yml'))
    scores, _ = compare.evaluate('net', enhancer, pairs, orientations=True)
    expected = {'PSNR': [], 'PSNR mirrored': [], 'PSNR turned': []}
    for stem in ('a', 'b'):
        low, high = (cv2.imread(str(data / folder / f'{stem}.png')) for folder in ('low', 'high'))
        expected['PSNR'].append(psnr_uint8(enhanced_uint8(net.eval(), low), high))
        expected['PSNR mirrored'].append(psnr_uint8(enhanced_uint8(net, low[:, ::-1].copy())[:, ::-1], high))
        expected['PSNR turned'].append(np.mean([psnr_uint8(np.rot90(enhanced_uint8(net, np.rot90(low, k).copy()), -k),
                                                           high) for k in (1, 2, 3)]))
    for column, values in expected.items():
        assert scores[column] == pytest.approx(np.mean(values), rel=1e-4), column
    assert abs(scores['PSNR mirrored'] - scores['PSNR']) > 1e-3 and abs(scores['PSNR turned'] - scores['PSNR']) > 1e-3
    assert 'PSNR mirrored' not in compare.evaluate('net', enhancer, pairs)[0]


def test_bad_numbers_are_named(tmp_path, monkeypatch, capsys):
    """Each refused before any data or model is read (neither exists here)."""
    compare = load_script('compare')
    base = ['compare.py', '--data', str(tmp_path / 'none'), '--model', 'x', 'MSIAGenerator', 'missing.pth']
    for option, value, message in (('--threads', '0', '--threads 0: must be at least 1'),
                                   ('--repeats', '-1', '--repeats -1: must be at least 0'),
                                   ('--grid-scale', '0', '--grid-scale 0.0: must be above 0'),
                                   ('--jpeg-quality', '0', '--jpeg-quality 0: must be from 1 to 100'),
                                   ('--jpeg-quality', '101', '--jpeg-quality 101: must be from 1 to 100')):
        monkeypatch.setattr(sys, 'argv', base + [option, value])
        with pytest.raises(SystemExit) as stop:
            compare.compare()
        assert stop.value.code == 2 and message in capsys.readouterr().err


def run_compare(monkeypatch, *args):
    """compare.py in this process with ``args``; the one-line error it exits with, or None."""
    compare = load_script('compare')
    monkeypatch.setattr(sys, 'argv', ['compare.py', *map(str, args), '--repeats', '0', '--device', 'cpu'])
    try:
        run_cli('compare.py', compare.compare)
    except SystemExit as stop:
        return str(stop.code)
    return None


def test_jpeg_quality_scores_the_outputs_for_inputs_saved_as_jpeg(tmp_path, monkeypatch):
    """--jpeg-quality: each input saved as JPEG and read back before it is enhanced, said in the 'inputs' column; the
    model's outputs for those inputs, scored apart from compare.py, give its PSNR."""
    write_pairs(str(tmp_path / 'data'), ['a', 'b'], size=(40, 32))
    torch.manual_seed(0)
    net = MSIAGenerator(num_feat=8, act='lrelu').eval()
    torch.save({'params': net.state_dict()}, tmp_path / 'small.pth')
    (tmp_path / 'small.yml').write_text(yaml.safe_dump({'network_g': {'type': 'MSIAGenerator', 'num_feat': 8,
                                                                      'act': 'lrelu'}}))
    rows = {}
    for quality in (None, 20):
        out = tmp_path / f'out_{quality}'
        args = ['--data', tmp_path / 'data', '--out', out, '--model', 'small', tmp_path / 'small.yml',
                tmp_path / 'small.pth', *(['--jpeg-quality', quality] if quality else [])]
        assert run_compare(monkeypatch, *args) is None
        rows[quality], = csv.DictReader(open(out / 'compare.csv'))
    assert 'inputs' not in rows[None] and rows[20]['inputs'] == 'JPEG quality 20'
    psnrs = []
    for stem in ('a', 'b'):
        low, high = (cv2.imread(str(tmp_path / 'data' / folder / f'{stem}.png')) for folder in ('low', 'high'))
        saved = cv2.imdecode(cv2.imencode('.jpg', low, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_COLOR)
        assert np.abs(saved.astype(int) - low).max() > 0  # JPEG at quality 20 changes the input
        psnrs.append(psnr_uint8(enhanced_uint8(net, saved), high))
    assert float(rows[20]['PSNR']) == pytest.approx(np.mean(psnrs), rel=1e-3)
    assert float(rows[20]['PSNR']) != pytest.approx(float(rows[None]['PSNR']), rel=1e-4)


def test_a_model_that_changes_the_size_is_refused_before_the_metrics(tmp_path, monkeypatch):
    write_pairs(str(tmp_path / 'data'), ['a'], size=(40, 32))
    network_g = {'type': 'MSRResNet', 'num_feat': 4, 'num_block': 1, 'upscale': 4}  # x4 super-resolution
    (tmp_path / 'x4.yml').write_text(yaml.safe_dump({'network_g': network_g}))
    torch.save(build_network(dict(network_g)).state_dict(), tmp_path / 'x4.pth')
    error = run_compare(monkeypatch, '--data', tmp_path / 'data', '--out', tmp_path / 'out',
                        '--model', 'SR x4', tmp_path / 'x4.yml', tmp_path / 'x4.pth')
    assert error == (f"compare.py: error: --model 'SR x4': its output is 160x128 but the reference "
                     f"{tmp_path / 'data' / 'high' / 'a.png'} is 40x32; compare needs a model that keeps the size")
    assert not (tmp_path / 'out' / 'compare.csv').exists()


def test_a_network_that_cannot_be_built_by_name_says_so(tmp_path, monkeypatch):
    write_pairs(str(tmp_path / 'data'), ['a'], size=(40, 32))
    torch.save({}, tmp_path / 'any.pth')
    error = run_compare(monkeypatch, '--data', tmp_path / 'data', '--out', tmp_path / 'out',
                        '--model', 'swin', 'SwinIR', tmp_path / 'any.pth')  # its defaults do not build
    assert error.startswith("compare.py: error: network_g {'type': 'SwinIR'}: cannot be built (RuntimeError: ")
    assert '\n' not in error


STANDIN_PLUGIN = '''"""A stand-in for another BasicSR plugin: importing it registers StandinGain in ARCH_REGISTRY."""
import torch
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class StandinGain(torch.nn.Module):
    """A 1x1 convolution, set to multiply every channel by ``gain``."""

    def __init__(self, gain=1.0):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.conv.weight.copy_(gain * torch.eye(3)[:, :, None, None])
            self.conv.bias.zero_()

    def forward(self, x):
        return self.conv(x)
'''


def run_compare_script(tmp_path, *args):
    """compare.py in its own process, with tmp_path (where standin_plugin.py is) on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get('PYTHONPATH')])))
    return subprocess.run([sys.executable, osp.join(REPO, 'scripts', 'metrics', 'compare.py'), *map(str, args),
                           '--repeats', '0', '--device', 'cpu'], capture_output=True, text=True, timeout=300, env=env)


def test_import_registers_the_archs_of_another_plugin(tmp_path):
    (tmp_path / 'standin_plugin.py').write_text(STANDIN_PLUGIN)
    data = tmp_path / 'data'
    write_pairs(str(data), ['a', 'b'], size=(40, 32))
    (tmp_path / 'gain.yml').write_text(yaml.safe_dump({'network_g': {'type': 'StandinGain', 'gain': 8.0}}))
    conv = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():  # weights of its own: the ones loaded, not the constructor's, must be what is scored
        conv.weight.copy_(7.5 * torch.eye(3)[:, :, None, None])
        conv.bias.fill_(0.01)
    torch.save({'params': {f'conv.{key}': value for key, value in conv.state_dict().items()}},
               tmp_path / 'gain.pth')
    models = ['--model', 'stand-in', tmp_path / 'gain.yml', tmp_path / 'gain.pth',
              '--model', 'stand-in by name', 'StandinGain', tmp_path / 'gain.pth']
    out = tmp_path / 'out'

    result = run_compare_script(tmp_path, '--data', data, '--out', out, '--import', 'standin_plugin', *models)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(open(out / 'compare.csv')))
    assert [row['model'] for row in rows] == ['stand-in', 'stand-in by name']
    expected = []
    for stem in ('a', 'b'):
        low, high = (cv2.imread(str(data / folder / f'{stem}.png')) for folder in ('low', 'high'))
        expected.append(psnr_uint8(enhanced_uint8(conv.eval(), low), high))
    for row in rows:  # 7.5 x low + 0.01 against gt (low = gt // 8): close, and scored as apart from compare.py
        assert float(row['PSNR']) == pytest.approx(np.mean(expected), rel=1e-3)
        assert 15 < float(row['PSNR']) < 60 and 0 < float(row['SSIM']) <= 1
        assert float(row['params (M)']) == 12e-6  # 3x3 weights and 3 biases
        assert row['CPU ms @600x400 (2 threads)'] == ''
    assert '| stand-in |' in (out / 'compare.md').read_text()
    assert (out / 'grid_a.png').is_file()


def test_without_import_the_arch_is_unknown_and_named(tmp_path, monkeypatch):
    """In this process, where standin_plugin is never imported: one line that names the arch, given in an options
    file or by name."""
    write_pairs(str(tmp_path / 'data'), ['a'], size=(40, 32))
    (tmp_path / 'gain.yml').write_text('network_g:\n  type: StandinGain\n  gain: 8.0\n')
    torch.save({}, tmp_path / 'any.pth')
    for network, message in (
            (tmp_path / 'gain.yml', "network_g {'type': 'StandinGain', 'gain': 8.0}: cannot be built (KeyError: "
             "\"No object named 'StandinGain' found in 'arch' registry!\")"),
            ('StandinGain', "'StandinGain' is neither an options file (.yml) nor a registered network name")):
        error = run_compare(monkeypatch, '--data', tmp_path / 'data', '--out', tmp_path / 'out',
                            '--model', 'stand-in', network, tmp_path / 'any.pth')
        assert error == f'compare.py: error: {message}'
    assert not (tmp_path / 'out' / 'compare.csv').exists()


def test_a_module_that_cannot_be_imported_is_named(tmp_path, monkeypatch):
    """Refused before any data or model is read (neither exists here)."""
    (tmp_path / 'broken_plugin.py').write_text('import no_such_dependency_of_it\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    for module, cause in (('no_such_module', "ModuleNotFoundError: No module named 'no_such_module'"),
                          ('broken_plugin', "ModuleNotFoundError: No module named 'no_such_dependency_of_it'")):
        error = run_compare(monkeypatch, '--data', tmp_path / 'none', '--import', 'msiagan', '--import', module,
                            '--model', 'x', 'MSIAGenerator', tmp_path / 'missing.pth')
        assert error == f'compare.py: error: --import {module}: cannot be imported ({cause})'
