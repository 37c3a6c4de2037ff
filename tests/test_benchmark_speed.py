"""scripts/benchmark_speed.py: its options are checked before anything is measured."""
import sys

import pytest
from conftest import load_script

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
