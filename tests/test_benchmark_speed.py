"""scripts/benchmarks/benchmark_speed.py: its options are checked before anything is measured, and what it reports."""
import re
import sys
from os import path as osp

import pytest
import torch
import yaml
from conftest import REPO, load_script

from msiagan.archs import MSIAGenerator
from msiagan.inference.fast_inference import optimize_for_inference
from msiagan.utils.profiling import count_gmac, count_parameters

benchmark_speed = load_script('benchmark_speed')


@pytest.mark.parametrize('option, value, message', [
    ('--runs', '0', '--runs 0: must be at least 1'),
    ('--threads', '0', '--threads 0: must be at least 1'),
    ('--batch', '0', '--batch 0: must be at least 1'),
    ('--tile', '-1', '--tile and --tile-pad take 0 or more pixels'),
    ('--tile-pad', '-2', '--tile and --tile-pad take 0 or more pixels'),
])
def test_bad_numbers_are_named(option, value, message, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', ['benchmark_speed.py', option, value])
    with pytest.raises(SystemExit) as stop:
        benchmark_speed.benchmark()
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_reports_what_it_measures(tmp_path, monkeypatch, capsys):
    """A small generator at smaller sizes than the script's, onnxruntime beside it (--onnx); peak memory measured in
    this process, not in a fresh one (starting one costs seconds: test_peak_memory_is_measured_in_a_fresh_process)."""
    monkeypatch.setattr(benchmark_speed, 'SIZE', (120, 160))
    monkeypatch.setattr(benchmark_speed, 'SIZE_4K', (136, 200))
    monkeypatch.setattr(benchmark_speed, 'peak_rss', benchmark_speed.peak_rss_child)
    network = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'none'}
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': network}))
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, 'argv', ['benchmark_speed.py', '-opt', str(tmp_path / 'net.yml'), '--runs', '1',
                                      '--tile', '64', '--threads', str(threads), '--onnx'])
    benchmark_speed.benchmark()
    out = capsys.readouterr().out
    torch.manual_seed(0)
    net = MSIAGenerator(num_feat=8, act='none').eval()
    assert f'parameters {count_parameters(net):,};' in out
    for path, module in (('eager', net), ('optimized', optimize_for_inference(net))):
        assert f'GMAC {path:9s}: {count_gmac(module, 120, 160):6.2f} at 160x120, ' in out
        low, median, high, peak, before = map(float, re.search(
            rf'\| {path} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \((\d+)\) \|', out).groups())
        assert 0 < low <= median <= high and peak >= before > 0
    speed_up, difference = map(float, re.search(r'speed-up of the medians ([\d.]+)x; max \|optimized - eager\| '
                                                r'([\d.e+-]+)', out).groups())
    medians = [float(re.search(rf'\| {path} \| [\d.]+ \| ([\d.]+) \|', out).group(1))
               for path in ('eager', 'optimized')]
    rounding = 0.0005  # of the printed medians
    assert (medians[0] - rounding) / (medians[1] + rounding) - 0.005 <= speed_up
    assert speed_up <= (medians[0] + rounding) / (medians[1] - rounding) + 0.005
    assert difference < 1e-5
    low, median, high = map(float, re.search(r'\| onnxruntime \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| - \|',
                                             out).groups())
    assert 0 < low <= median <= high
    of_eager, of_optimized, onnx_difference = map(float, re.search(
        r"onnxruntime: ([\d.]+)x eager's speed, ([\d.]+)x the optimized path's; max \|onnxruntime - eager\| "
        r'([\d.e+-]+)', out).groups())
    for ratio, other in ((of_eager, medians[0]), (of_optimized, medians[1])):  # of the printed medians, rounded
        low_ratio, high_ratio = (other - rounding) / (median + rounding), (other + rounding) / (median - rounding)
        assert low_ratio - 0.005 <= ratio <= high_ratio + 0.005
    assert onnx_difference < 1e-4
    assert re.search(r'200x136 on the CPU, optimized, tile 64 pad 18: peak RSS \d+ MiB', out)
    assert 'eager, tile' not in out  # the eager path on the large image only with --eager-4k
    if not torch.cuda.is_available():
        assert 'GPU: CUDA not available, skipped' in out


def test_peak_memory_is_measured_in_a_fresh_process(monkeypatch):
    monkeypatch.setitem(sys.modules, 'benchmark_speed', benchmark_speed)  # for the spawned process to import
    monkeypatch.syspath_prepend(osp.join(REPO, 'scripts', 'benchmarks'))
    network = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'none'}
    before, peak, seconds = benchmark_speed.peak_rss(network, None, 'optimized', (64, 64), 0, 0, 1)
    assert 0 < before <= peak and seconds > 0


def test_against_times_another_generator_beside(tmp_path, monkeypatch, capsys):
    """--against OPT WEIGHTS: that generator's optimized path in the same runs, and the ratio of the medians."""
    monkeypatch.setattr(benchmark_speed, 'SIZE', (48, 64))
    monkeypatch.setattr(benchmark_speed, 'SIZE_4K', (64, 72))
    monkeypatch.setattr(benchmark_speed, 'peak_rss', benchmark_speed.peak_rss_child)
    for name, resample in (('new', 'blurred_ae3_up'), ('old', 'strided')):
        network = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', 'resample': resample}
        (tmp_path / f'{name}.yml').write_text(yaml.safe_dump({'network_g': network}))
        torch.save({'params': MSIAGenerator(num_feat=8, act='lrelu').state_dict()}, tmp_path / f'{name}.pth')
    monkeypatch.setattr(sys, 'argv', ['benchmark_speed.py', '-opt', str(tmp_path / 'new.yml'), '--weights',
                                      str(tmp_path / 'new.pth'), '--runs', '3', '--tile', '0', '--against',
                                      str(tmp_path / 'old.yml'), str(tmp_path / 'old.pth')])
    benchmark_speed.benchmark()
    out = capsys.readouterr().out
    against = re.search(r'against: \S+old\.yml \S+old\.pth: (.*); parameters ([\d,]+); GMAC optimized', out)
    assert "'strided'" in against[1] and against[2] == f"{count_parameters(MSIAGenerator(num_feat=8)):,}"
    optimized, other, ratio = map(float, re.search(
        r"optimized ([\d.]+) s, against ([\d.]+) s \(medians of 3 alternating runs\): ([\d.]+)x the time of "
        r"--against's", out).groups())
    rounding = 0.0005  # of the printed medians
    assert (optimized - rounding) / (other + rounding) - 0.0005 <= ratio
    assert other <= rounding or ratio <= (optimized + rounding) / (other - rounding) + 0.0005
