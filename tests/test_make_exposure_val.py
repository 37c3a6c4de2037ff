"""scripts/data_preparation/make_exposure_val.py: references given as inputs and darkened in linear light."""
import cv2
import numpy as np
import pytest
from conftest import load_script

from msiagan.metrics.exposure import linear_mean

make_exposure_val = load_script('make_exposure_val')


def test_writes_both_sets_for_evenly_spaced_references(tmp_path):
    (tmp_path / 'high').mkdir()
    rng = np.random.default_rng(0)
    for stem in 'abcdefg':
        cv2.imwrite(str(tmp_path / 'high' / f'{stem}.png'), rng.integers(60, 256, (24, 32, 3), dtype=np.uint8))
    (tmp_path / 'val.txt').write_text('\n'.join('gfedcb') + '\n')
    make_exposure_val.main(['--src', str(tmp_path / 'high'), '--meta-info', str(tmp_path / 'val.txt'), '--out',
                            str(tmp_path / 'out'), '--count', '3', '--factor', '0.2'])
    for name in ('references_in', 'darkened_x0.2'):
        for role in ('low', 'high'):
            assert sorted(p.name for p in (tmp_path / 'out' / name / role).iterdir()) == ['b.png', 'd.png', 'g.png']
    reference = cv2.imread(str(tmp_path / 'high' / 'd.png'))
    for name in ('references_in', 'darkened_x0.2'):
        assert np.array_equal(cv2.imread(str(tmp_path / 'out' / name / 'high' / 'd.png')), reference)
    assert np.array_equal(cv2.imread(str(tmp_path / 'out' / 'references_in' / 'low' / 'd.png')), reference)
    dark = cv2.imread(str(tmp_path / 'out' / 'darkened_x0.2' / 'low' / 'd.png'))
    assert linear_mean(dark) == pytest.approx(0.2 * linear_mean(reference), rel=0.03)


@pytest.mark.parametrize('options, message', [
    (['--factor', '0'], '--count takes a whole number of at least 1, --factor a number above 0'),
    (['--meta-info', 'LIST'], 'list.txt: 9 is not in'),
])
def test_bad_options_are_named(tmp_path, options, message):
    (tmp_path / 'high').mkdir()
    cv2.imwrite(str(tmp_path / 'high' / '1.png'), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / 'list.txt').write_text('9\n')
    options = [str(tmp_path / 'list.txt') if option == 'LIST' else option for option in options]
    with pytest.raises(SystemExit) as stop:
        make_exposure_val.main(['--src', str(tmp_path / 'high'), '--out', str(tmp_path / 'out'), *options])
    assert str(stop.value).startswith('make_exposure_val.py: error: ') and message in str(stop.value)
    assert not (tmp_path / 'out').exists()
