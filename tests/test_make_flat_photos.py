"""scripts/data_preparation/make_flat_photos.py: smoothed, darkened copies of references, whose outputs' grid energy is
the generator's own pattern."""
import cv2
import numpy as np
import pytest
from conftest import load_script

from msiagan.metrics.exposure import linear_mean
from msiagan.metrics.grid_energy import grid_energy

make_flat_photos = load_script('make_flat_photos')


def write_references(folder, stems):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem in stems:
        cv2.imwrite(str(folder / f'{stem}.png'), rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))


def test_writes_each_listed_image_at_each_exposure(tmp_path):
    write_references(tmp_path / 'high', ['1', '2', '3'])
    (tmp_path / 'val.txt').write_text('3\n1\n')
    make_flat_photos.main(['--src', str(tmp_path / 'high'), '--meta-info', str(tmp_path / 'val.txt'), '--out',
                           str(tmp_path / 'flat'), '--exposures', '0.1', '1'])
    assert sorted(p.name for p in (tmp_path / 'flat').iterdir()) == ['1_x0.1.png', '1_x1.png', '3_x0.1.png', '3_x1.png']
    reference = cv2.imread(str(tmp_path / 'high' / '1.png'))
    flat, dark = (cv2.imread(str(tmp_path / 'flat' / f'1_x{factor}.png')) for factor in ('1', '0.1'))
    assert grid_energy(flat) < 0.1 * grid_energy(reference)  # the noise is gone at the 8-pixel scale
    assert linear_mean(dark) == pytest.approx(0.1 * linear_mean(flat), rel=0.05)


@pytest.mark.parametrize('options, message', [
    (['--sigma', '0'], '--sigma and --exposures take numbers above 0'),
    (['--exposures', '0.2', '-1'], '--sigma and --exposures take numbers above 0'),
    (['--meta-info', 'LIST'], 'list.txt: 9 is not in'),
])
def test_bad_options_are_named(tmp_path, options, message):
    write_references(tmp_path / 'high', ['1'])
    (tmp_path / 'list.txt').write_text('9\n')
    options = [str(tmp_path / 'list.txt') if option == 'LIST' else option for option in options]
    with pytest.raises(SystemExit) as stop:
        make_flat_photos.main(['--src', str(tmp_path / 'high'), '--out', str(tmp_path / 'flat'), *options])
    assert str(stop.value).startswith('make_flat_photos.py: error: ') and message in str(stop.value)
    assert not (tmp_path / 'flat').exists()
