"""scripts/metrics/demo_report.py: the demo's enhanced images, side-by-side picture and PSNR/SSIM table."""
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.metrics import calculate_ssim
from conftest import enhanced_uint8, load_script, psnr_uint8, write_pairs

from msiagan.archs import MSIAGenerator
from msiagan.utils.errors import InputError

demo_report = load_script('demo_report')


def test_reports_every_validation_pair(tmp_path, monkeypatch, capsys):
    write_pairs(str(tmp_path / 'val'), ['a', 'b'], size=(32, 24))
    (tmp_path / 'exp' / 'models').mkdir(parents=True)
    torch.save({'params': MSIAGenerator(num_feat=8).state_dict()}, tmp_path / 'exp' / 'models' / 'net_g_latest.pth')
    (tmp_path / 'exp' / 'demo.yml').write_text(yaml.safe_dump({'network_g': {'type': 'MSIAGenerator', 'num_feat': 8}}))
    monkeypatch.setattr(sys, 'argv', ['demo_report.py', '--experiment', str(tmp_path / 'exp'),
                                      '--data', str(tmp_path / 'val'), '--out', str(tmp_path / 'out')])
    demo_report.report()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ['a', 'b', 'mean']
    net = MSIAGenerator(num_feat=8).eval()
    net.load_state_dict(torch.load(tmp_path / 'exp' / 'models' / 'net_g_latest.pth', weights_only=True)['params'])
    scores = []  # input PSNR, SSIM, output PSNR, SSIM, scored apart from demo_report.py
    for stem in ('a', 'b'):
        low, high = (cv2.imread(str(tmp_path / 'val' / folder / f'{stem}.png')) for folder in ('low', 'high'))
        scores.append([metric(img, high) for img in (low, enhanced_uint8(net, low))
                       for metric in (psnr_uint8, lambda img, ref: calculate_ssim(img, ref, 0))])
    for line, expected in zip(lines[1:4], [*scores, np.mean(scores, axis=0)]):
        printed = [float(cell) for cell in line.split()[1:]]
        assert printed == pytest.approx(expected, abs=0.006), line  # printed to 2 and 3 decimals
    assert cv2.imread(str(tmp_path / 'out' / 'enhanced' / 'a.png')).shape == (24, 32, 3)
    assert (tmp_path / 'out' / 'side_by_side.png').is_file()


def test_an_untrained_experiment_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['demo_report.py', '--experiment', str(tmp_path / 'none')])
    with pytest.raises(InputError, match='net_g_latest.pth: no trained generator there; train first'):
        demo_report.report()
