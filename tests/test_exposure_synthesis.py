"""Training inputs synthesized from the references (datasets:train:exposure_synthesis): the exposure and noise they
promise, reproducible with a seed, mixed with the dataset's own inputs, and bad options named."""
import numpy as np
import pytest
import torch
from conftest import make_dataset, write_pairs

from msiagan.data.exposure_synthesis import UINT8_TO_LINEAR, ExposureSynthesis, synthesize_capture
from msiagan.utils.errors import InputError


def electrons_of(capture, full_well):
    """Photo-electrons that a uint8 capture's values stand for."""
    return UINT8_TO_LINEAR[capture.long()].double() * full_well


@pytest.mark.parametrize('level, exposure, full_well, read_noise', [
    (200, 0.25, 1000.0, 0.0),  # shot noise only: variance = mean
    (128, 2**-4, 4000.0, 6.0),  # shot and read noise
    (255, 2**-6, 20000.0, 2.0),  # white, dark capture
])
def test_a_capture_has_the_exposure_and_noise_it_promises(level, exposure, full_well, read_noise):
    reference = torch.full((3, 300, 300), level, dtype=torch.uint8)
    expected = UINT8_TO_LINEAR[level].item() * exposure * full_well  # electrons
    electrons = electrons_of(synthesize_capture(reference, exposure, full_well, read_noise,
                                                torch.Generator().manual_seed(0)), full_well)
    assert electrons.mean().item() == pytest.approx(expected, rel=0.02)
    assert electrons.var().item() == pytest.approx(expected + read_noise**2, rel=0.08)


def test_a_capture_is_the_same_for_the_same_seed_and_keeps_layout_and_type():
    synthesis = ExposureSynthesis({}, 'x')
    reference = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    first, again, other = (synthesis.capture(reference, torch.Generator().manual_seed(seed)) for seed in (1, 1, 2))
    assert first.shape == reference.shape and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    as_float = synthesis.capture(reference.astype(np.float32) / 255, torch.Generator().manual_seed(1))
    assert as_float.dtype == np.float32 and np.array_equal(np.round(as_float * 255).astype(np.uint8), first)
    as_tensor = torch.from_numpy(reference).permute(2, 0, 1)  # (C, H, W), as cache: device holds it
    first, again = (synthesis.capture(as_tensor, torch.Generator().manual_seed(1)) for _ in range(2))
    assert first.shape == as_tensor.shape and first.dtype == torch.uint8 and torch.equal(first, again)


def test_settings_are_drawn_over_the_ranges_asked():
    synthesis = ExposureSynthesis({'log2_exposure': [-6, -2], 'full_well': [1000, 16000], 'read_noise': 3}, 'x')
    generator = torch.Generator().manual_seed(0)
    draws = [synthesis.draw_capture(generator) for _ in range(4000)]
    log2_exposure = np.log2([d['exposure'] for d in draws])
    log2_full_well = np.log2([d['full_well'] for d in draws])
    assert -6 <= log2_exposure.min() < -5.9 and -2.1 < log2_exposure.max() <= -2
    assert np.mean(log2_exposure) == pytest.approx(-4, abs=0.1)
    assert np.mean(log2_full_well) == pytest.approx(np.log2(4000), abs=0.1)  # log-uniform
    assert {d['read_noise'] for d in draws} == {3.0}


def test_inputs_come_from_each_source_in_the_shares_asked():
    synthesis = ExposureSynthesis({'probability': 0.6, 'reference_probability': 0.15}, 'x')
    generator = torch.Generator().manual_seed(0)
    sources = [synthesis.choose(generator) for _ in range(8000)]
    for source, share in (('reference', 0.15), ('synthesized', 0.6), ('dataset', 0.25)):
        assert sources.count(source) / len(sources) == pytest.approx(share, abs=0.02)


@pytest.mark.parametrize('options, message', [
    ({'probability': 1.5}, r'probability: 1.5 is not a number from 0 to 1'),
    ({'probability': 0.8, 'reference_probability': 0.3}, 'probability \\+ reference_probability is 0.8 \\+ 0.3'),
    ({'log2_exposure': [0, -8]}, r'log2_exposure: \[0, -8\] is not a number or a \[low, high\] range'),
    ({'log2_exposure': [-2, 3]}, r'log2_exposure: .* within \[-16, 0\]'),
    ({'full_well': 'many'}, "full_well: 'many' is not a number"),
    ({'read_noise': [1, 2, 3]}, r'read_noise: \[1, 2, 3\]'),
    ({'exposure': 0.1}, "unknown option 'exposure'"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(InputError, match=f'datasets: train: exposure_synthesis:? ?.*{message}'):
        ExposureSynthesis(options, 'datasets: train: exposure_synthesis')


def test_only_training_sets_take_it(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'])
    with pytest.raises(InputError, match='exposure_synthesis: makes training inputs; the val phase takes'):
        make_dataset(lq_dir, gt_dir, exposure_synthesis={})


def training_set(tmp_path, cache=None, **synthesis):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(64, 48))
    return make_dataset(lq_dir, gt_dir, phase='train', gt_size=32, use_hflip=True, use_rot=True, lq_frame=True,
                        lq_frame_flip=True, cache=cache, exposure_synthesis=synthesis)


def test_reference_inputs_are_the_reference(tmp_path):
    data = training_set(tmp_path, probability=0, reference_probability=1)
    for _ in range(4):
        item = data[0]
        assert torch.equal(item['lq'], item['gt'])


@pytest.mark.parametrize('cache', [None, 'memory', 'device'])
def test_a_synthesized_frame_is_cropped_with_its_reference(tmp_path, cache):
    data = training_set(tmp_path, cache, probability=1, reference_probability=0, log2_exposure=-3, full_well=1e6,
                        read_noise=0)
    torch.manual_seed(0)
    for _ in range(6):
        item = data[0]
        frame, lq = item['lq_frame'], item['lq']
        windows = [frame[:, top:top + 32, left:left + 32] for top in range(17) for left in range(33)]
        crops = [lq, lq.flip(-1), lq.flip(-2), lq.flip(-1).flip(-2), *(x.transpose(-1, -2) for x in (
            lq, lq.flip(-1), lq.flip(-2), lq.flip(-1).flip(-2)))]
        assert any(torch.equal(window, crop) for window in windows for crop in crops)  # the crop is of the frame
        gt_linear, lq_linear = (UINT8_TO_LINEAR[torch.round(x * 255).long()] for x in (item['gt'], lq))
        assert lq_linear.mean().item() == pytest.approx(gt_linear.mean().item() / 8, rel=0.05)  # 2^-3, no noise


def test_without_a_frame_the_crop_alone_is_synthesized(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(64, 48))
    data = make_dataset(lq_dir, gt_dir, phase='train', gt_size=32, exposure_synthesis={
        'probability': 1, 'reference_probability': 0, 'log2_exposure': -1, 'full_well': 1e6, 'read_noise': 0})
    item = data[0]
    gt_linear, lq_linear = (UINT8_TO_LINEAR[torch.round(x * 255).long()] for x in (item['gt'], item['lq']))
    torch.testing.assert_close(lq_linear, gt_linear / 2, atol=0.01, rtol=0.02)
