"""The training fast path: cached data, channels_last, mixed precision and torch.compile give what the plain
path gives (msiagan.models.fast_training, PairedLowLightDataset's cache)."""
import logging
import random
import re
import subprocess
import sys
from os import path as osp

import numpy as np
import pytest
import torch
from basicsr.data import build_dataloader
from basicsr.data.data_sampler import EnlargedSampler
from conftest import REPO, make_dataset, make_model, tiny_train_options, wake_global_parts, write_options, write_pairs

from msiagan.models.fast_training import resolve_auto_precision
from msiagan.utils.errors import InputError

AUGMENTED = dict(phase='train', gt_size=32, use_hflip=True, use_rot=True)


@pytest.fixture
def train_pairs(tmp_path):
    """Four 48x40 pairs (.png inputs, .jpg references) and one 24x20 pair, smaller than the 32x32 crops."""
    lq, gt = write_pairs(str(tmp_path / 'data'), ['a', 'b', 'c', 'd'], gt_ext='.jpg')
    write_pairs(str(tmp_path / 'data'), ['small'], size=(24, 20), seed=1)
    return lq, gt


def items(dataset, count=12, seed=0):
    random.seed(seed)
    return [dataset[index % len(dataset)] for index in range(count)]


@pytest.mark.parametrize('options', [AUGMENTED, dict(AUGMENTED, resize=[40, 36]), dict(phase='val'),
                                     dict(phase='train', gt_size=None, use_hflip=True, use_rot=False)])
@pytest.mark.parametrize('cache', ['memory', 'device'])
def test_cached_items_are_the_files_items(train_pairs, options, cache):
    from_files = items(make_dataset(*train_pairs, **options))
    cached = items(make_dataset(*train_pairs, cache=cache, **options))
    for file_item, cached_item in zip(from_files, cached):
        assert cached_item['lq_path'] == file_item['lq_path']
        for key in ('lq', 'gt'):
            assert cached_item[key].dtype == torch.float32
            assert torch.equal(cached_item[key], file_item[key]), (key, file_item['lq_path'])


def test_augmentations_differ_between_draws_and_leave_the_cache_alone(train_pairs):
    for cache in ('memory', 'device'):
        dataset = make_dataset(*train_pairs, cache=cache, **AUGMENTED)
        before = [[img.clone() if torch.is_tensor(img) else img.copy() for img in pair] for pair in dataset.cache]
        crops = {tuple(item['gt'].flatten()[:64].tolist()) for item in items(dataset, count=24)}
        assert len(crops) > 20  # not one fixed window
        for pair, saved in zip(dataset.cache, before):
            assert all(np.array_equal(np.asarray(img), np.asarray(copy)) for img, copy in zip(pair, saved))


@pytest.mark.parametrize('cache', ['memory', 'device'])
def test_items_changed_in_place_leave_the_cache_alone(train_pairs, cache):
    """Also where no crop or flip makes a copy: whole frames, held as float32 after resize."""
    dataset = make_dataset(*train_pairs, cache=cache, phase='val', resize=[40, 36])
    before = [[torch.as_tensor(img).clone() for img in pair] for pair in dataset.cache]
    for item in items(dataset, count=len(dataset)):
        item['lq'].mul_(2)
        item['gt'].zero_()
    for pair, saved in zip(dataset.cache, before):
        assert all(torch.equal(torch.as_tensor(img), copy) for img, copy in zip(pair, saved))


def test_memory_cache_keeps_8_bit_images_as_8_bit(train_pairs):
    assert make_dataset(*train_pairs, cache='memory').cache[0][0].dtype == np.uint8
    assert make_dataset(*train_pairs, cache='device').cache[0][0].dtype == torch.uint8
    assert make_dataset(*train_pairs, cache='memory', resize=[40, 36]).cache[0][0].dtype == np.float32


def test_bad_cache_options_are_named(train_pairs):
    with pytest.raises(InputError, match="datasets: t: cache 'disk' is not one of: ~, memory, device"):
        make_dataset(*train_pairs, name='t', cache='disk')
    with pytest.raises(InputError, match='datasets: t: cache: device needs num_worker_per_gpu: 0 \\(it is 2\\)'):
        make_dataset(*train_pairs, name='t', cache='device', num_worker_per_gpu=2)


def train(tmp_path, train_pairs, cache=None, iterations=4, **fast_options):
    """Run ``iterations`` steps as BasicSR's trainer does (its loader and sampler, data in this process) from a
    fixed seed; return (the logged losses of each step, the model)."""
    dataset_opt = dict(AUGMENTED, name='t', cache=cache, num_worker_per_gpu=0, batch_size_per_gpu=2)
    dataset = make_dataset(*train_pairs, **dataset_opt)
    loader = build_dataloader(dataset, dataset_opt, num_gpu=0, dist=False, sampler=EnlargedSampler(dataset, 1, 0, 2),
                              seed=0)
    torch.manual_seed(0)
    random.seed(0)
    model = make_model(tmp_path, **fast_options)
    logs = []
    for current_iter, batch in zip(range(1, iterations + 1), loader):
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        logs.append(model.get_current_log())
    return logs, model


def test_fast_path_in_float32_trains_as_the_plain_path(tmp_path, train_pairs):
    plain_logs, plain = train(tmp_path / 'plain', train_pairs)
    fast_logs, fast = train(tmp_path / 'fast', train_pairs, cache='memory', channels_last=True, generator_chunk=1)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in fast.net_g.parameters() if p.ndim == 4)
    for step, (plain_log, fast_log) in enumerate(zip(plain_logs, fast_logs), 1):
        for name, value in plain_log.items():
            assert fast_log[name] == pytest.approx(value, rel=1e-5, abs=1e-6), (step, name)
    for net in ('net_g', 'net_d', 'net_g_ema'):
        noise = rounding_noise_only(getattr(plain, net))
        for (name, value), fast_value in zip(getattr(plain, net).state_dict().items(),
                                             getattr(fast, net).state_dict().values()):
            atol = 1e-4 if name in noise else 1e-5
            torch.testing.assert_close(fast_value, value, rtol=1e-5, atol=atol, msg=f'{net} {name}')


def rounding_noise_only(net):
    """Names of the state of ``net`` that only rounding noise moves: the bias of a conv that a BatchNorm follows (the
    normalization removes it, so its gradient is rounding noise, whose sign differs with the thread count) and that
    BatchNorm's running mean, which tracks it. Such biases start at 0 and stay within about 1e-5."""
    modules = list(net.named_modules())
    names = set()
    for (name, module), (next_name, next_module) in zip(modules, modules[1:]):
        if isinstance(module, torch.nn.Conv2d) and isinstance(next_module, torch.nn.BatchNorm2d):
            names |= {f'{name}.bias', f'{next_name}.running_mean'}
    return names


def test_bf16_losses_stay_close_to_float32(tmp_path, train_pairs):
    """Stated tolerance, over 5 steps from the same start: the first step's losses within 1% of float32's; the
    content losses and the total within 0.5% at every step; the adversarial ones, whose D follows its own
    trajectory once steps differ, within 10%."""
    plain_logs, _ = train(tmp_path / 'plain', train_pairs, iterations=5)
    bf16_logs, bf16 = train(tmp_path / 'bf16', train_pairs, iterations=5, mixed_precision='bf16', channels_last=True)
    assert bf16.output.dtype == torch.bfloat16  # G ran in bf16
    adversarial = ('l_g_gan', 'l_d_real', 'l_d_fake')
    for step, (plain_log, bf16_log) in enumerate(zip(plain_logs, bf16_logs), 1):
        for name in ('l_g_pix', 'l_g_mac', 'l_g_ssim', 'l_g_total', *adversarial):
            tolerance = 1e-2 if step == 1 else 1e-1 if name in adversarial else 5e-3
            assert bf16_log[name] == pytest.approx(plain_log[name], rel=tolerance), (step, name)


@pytest.fixture
def basicsr_log(caplog):
    """The messages BasicSR's root logger gives while the test runs (it does not propagate to caplog's)."""
    logger = logging.getLogger('basicsr')
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger='basicsr')
    yield caplog
    logger.removeHandler(caplog.handler)


def fake_cpu(monkeypatch, **flags):
    """torch.cpu.get_capabilities() of a CPU with these bf16 flags (avx512_bf16, amx_bf16) set."""
    capabilities = {**torch.cpu.get_capabilities(), 'cpu_name': 'Test CPU', 'avx512_bf16': False, 'amx_bf16': False,
                    **flags}
    monkeypatch.setattr(torch.cpu, 'get_capabilities', lambda: capabilities)


@pytest.mark.parametrize('flags, expected', [({}, None), ({'avx512_bf16': True}, 'bf16'),
                                             ({'amx_bf16': True}, 'bf16')])
def test_auto_precision_is_bf16_only_on_a_cpu_with_bf16_instructions(tmp_path, monkeypatch, basicsr_log, flags,
                                                                     expected):
    fake_cpu(monkeypatch, **flags)
    model = make_model(tmp_path, mixed_precision='auto')
    assert model.precision == expected
    with model.autocast():
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16 if expected else not torch.is_autocast_enabled('cpu')
    chosen = [record.getMessage() for record in basicsr_log.records if 'mixed_precision auto' in record.getMessage()]
    reason = 'Test CPU has no bf16 instructions' if expected is None else f'Test CPU has {next(iter(flags))}'
    assert len(chosen) == 1 and f"auto: {expected or 'float32'}, as {reason}" in chosen[0]
    assert not [record for record in basicsr_log.records if record.levelno >= logging.WARNING]


@pytest.mark.parametrize('native, expected', [(True, 'bf16'), (False, None)])
def test_auto_precision_on_cuda_asks_for_native_bf16(monkeypatch, native, expected):
    asked = []

    def is_bf16_supported(including_emulation=True):
        asked.append(including_emulation)
        return native or including_emulation

    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', is_bf16_supported)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda device=None: 'Test GPU')
    precision, reason = resolve_auto_precision(torch.device('cuda'))
    assert (precision, asked) == (expected, [False])
    assert reason.startswith('Test GPU')


def test_explicit_bf16_on_a_cpu_without_bf16_instructions_warns_of_the_slowdown(tmp_path, monkeypatch, basicsr_log):
    fake_cpu(monkeypatch)
    model = make_model(tmp_path, mixed_precision='bf16')
    assert model.precision == 'bf16'  # kept: the user asked for it
    warnings = [record.getMessage() for record in basicsr_log.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'emulated' in warnings[0] and 'x slower than in float32' in warnings[0]


def test_precision_options_are_checked(tmp_path):
    with pytest.raises(InputError, match="train:mixed_precision 'fp32': must be ~, auto, bf16 or fp16"):
        make_model(tmp_path, mixed_precision='fp32')
    with pytest.raises(InputError, match='train:mixed_precision fp16 needs a CUDA GPU'):
        make_model(tmp_path, mixed_precision='fp16')
    with pytest.raises(InputError, match="train:channels_last 'yes': must be true or false"):
        make_model(tmp_path, channels_last='yes')


def frame_reading_model(tmp_path, **train_overrides):
    """A model with datasets:train:lq_frame and a generator with a global branch, its last layer awake."""
    model = make_model(tmp_path, network_g={'type': 'MSIAGenerator', 'num_feat': 8, 'global_branch': True},
                       train_set={'lq_frame': True}, **train_overrides)
    wake_global_parts(model.net_g)
    return model


def test_generator_chunks_give_the_whole_batch_output_and_are_checked(tmp_path):
    model = frame_reading_model(tmp_path, generator_chunk=2)
    torch.manual_seed(0)
    frames = torch.rand(5, 3, 40, 48)
    model.feed_data({'lq': frames[..., :32, :32], 'gt': frames[..., :32, :32], 'lq_frame': frames})
    calls = []
    model.net_g.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    with torch.no_grad():
        chunked = model.enhance_lq()
        model.generator_chunk = None
        torch.testing.assert_close(chunked, model.enhance_lq(), rtol=1e-5, atol=1e-6)
    assert calls == [2, 2, 1, 5]
    with pytest.raises(InputError, match='train:generator_chunk 0: must be ~ or a number of crops, at least 1'):
        make_model(tmp_path, generator_chunk=0)
    with pytest.raises(InputError, match='train:generator_chunk: network_g UNetGenerator has batch statistics'):
        make_model(tmp_path, network_g={'type': 'UNetGenerator', 'num_feat': 8, 'num_down': 5}, generator_chunk=1)


def test_compile_keeps_the_state_dict_names(tmp_path):
    plain, compiled = make_model(tmp_path), make_model(tmp_path, compile=True)
    assert compiled.net_g._compiled_call_impl is not None and compiled.net_d._compiled_call_impl is not None
    assert list(compiled.net_g.state_dict()) == list(plain.net_g.state_dict())
    assert list(compiled.net_d.state_dict()) == list(plain.net_d.state_dict())


def test_benchmark_prints_both_paths_and_the_speed_up(tmp_path, train_pairs):
    opt = tiny_train_options('bench', train_pairs, train_pairs)
    options = write_options(tmp_path / 'bench.yml', opt)
    result = subprocess.run([sys.executable, osp.join(REPO, 'scripts', 'benchmarks', 'benchmark_train.py'), '-opt', options,
                             '--iters', '2', '--warmup', '1', '--threads', '1', '--force_yml', 'network_g:num_feat=8'],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f'{options} on CPU, 1 threads: 1 warm-up + 2 timed iterations per path')
    assert re.fullmatch(r'CPU: .+, \d+ cores, ATen kernels \w+; bf16 and AMX flags: avx512_bf16 (yes|no), '
                        r'amx_bf16 (yes|no), amx_tile (yes|no)', lines[1]), lines[1]
    assert lines[2] == 'fast path precision: fp32 (the options)'  # they set none: float32, as training
    assert lines[3].startswith('plain (files, 0 workers, fp32): 2 x 32x32 a batch, ')
    assert lines[4].startswith('fast (cache memory, 0 workers, channels_last, fp32, ')
    for line in lines[3:5]:
        assert re.search(r' Mpx/s, \d+\.\d+ it/s, \d+\.\d% waiting for data, peak memory \d+ MiB$', line), line
    assert re.fullmatch(r'plain \d+\.\d\d Mpx/s, fast \d+\.\d\d Mpx/s, speed-up \d+\.\d\dx', lines[-1]), lines[-1]


def test_benchmark_against_a_change_alternates_the_two_fast_paths(tmp_path, train_pairs):
    opt = tiny_train_options('bench', train_pairs, train_pairs)
    options = write_options(tmp_path / 'bench.yml', opt)
    result = subprocess.run([sys.executable, osp.join(REPO, 'scripts', 'benchmarks', 'benchmark_train.py'), '-opt', options,
                             '--iters', '1', '--warmup', '0', '--threads', '1', '--rounds', '2', '--force_yml',
                             'network_g:num_feat=8', '--against', 'datasets:train:batch_size_per_gpu=1'],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()[3:]
    assert [line.split(':')[0] for line in lines[:4]] == ['round 1, as given', 'round 1, changed', 'round 2, as given',
                                                          'round 2, changed']
    assert all(' 2 x 32x32 a batch, ' in line for line in lines[0:4:2])
    assert all(' 1 x 32x32 a batch, ' in line for line in lines[1:4:2])  # the change reached the changed path
    assert re.fullmatch(r'as given \d+\.\d{3} s/it, changed \(datasets:train:batch_size_per_gpu=1\) \d+\.\d{3} s/it: '
                        r'as given takes \d+\.\d{3}x the time', lines[-1]), lines[-1]


def test_benchmark_against_a_bad_change_is_one_line(tmp_path, train_pairs):
    options = write_options(tmp_path / 'bench.yml', tiny_train_options('bench', train_pairs, train_pairs))
    result = subprocess.run([sys.executable, osp.join(REPO, 'scripts', 'benchmarks', 'benchmark_train.py'), '-opt', options,
                             '--against', 'train:optim_g:lr=1e-4'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.splitlines()[-1] == (f"benchmark_train.py: error: {options}: train:optim_g:lr '1e-4' is text, "
                                              "not a number, to YAML: write 0.0001 (or !!float 1e-4)")


def test_benchmark_names_bad_arguments(tmp_path):
    result = subprocess.run([sys.executable, osp.join(REPO, 'scripts', 'benchmarks', 'benchmark_train.py'), '-opt',
                             str(tmp_path / 'missing.yml')], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith('benchmark_train.py: error: ') and f'{tmp_path}/missing.yml: cannot read' in last
    result = subprocess.run([sys.executable, osp.join(REPO, 'scripts', 'benchmarks', 'benchmark_train.py'), '-opt', 'x.yml',
                             '--iters', '0'], capture_output=True, text=True, timeout=120)
    assert result.stderr.splitlines()[-1] == ('benchmark_train.py: error: --iters, --threads and --rounds must be at '
                                              'least 1, --warmup at least 0')


@pytest.mark.parametrize('cache', [None, 'memory', 'device'])
def test_lq_frame_is_the_whole_input_and_leaves_the_crops_as_they_were(train_pairs, cache):
    options = dict(AUGMENTED, cache=cache, resize=[40, 36])
    plain = items(make_dataset(*train_pairs, **options))
    with_frames = items(make_dataset(*train_pairs, lq_frame=True, **options))
    whole = {item['lq_path']: item['lq'] for item in items(make_dataset(*train_pairs, resize=[40, 36]), count=5)}
    for plain_item, item in zip(plain, with_frames):
        assert torch.equal(item['lq'], plain_item['lq']) and torch.equal(item['gt'], plain_item['gt'])
        assert torch.equal(item['lq_frame'], whole[item['lq_path']])  # never cropped, flipped or turned
    assert 'lq_frame' not in make_dataset(*train_pairs, lq_frame=True, resize=[40, 36])[0]  # validation: whole already


@pytest.mark.parametrize('cache', [None, 'memory', 'device'])
def test_lq_frame_flip_gives_the_frame_its_crops_flips_but_not_its_turn(train_pairs, cache):
    options = dict(phase='train', gt_size=None, use_hflip=True, use_rot=True, cache=cache, lq_frame=True)
    plain = items(make_dataset(*train_pairs, **options))
    flipped = items(make_dataset(*train_pairs, lq_frame_flip=True, **options))
    for plain_item, item in zip(plain, flipped):
        assert torch.equal(item['lq'], plain_item['lq'])  # the same draws
        upright = item['lq'] if item['lq'].shape == item['lq_frame'].shape else item['lq'].transpose(-2, -1)
        assert torch.equal(item['lq_frame'], upright)  # whole-frame crops: the frame is the crop, turned back
    assert any(not torch.equal(item['lq_frame'], plain_item['lq_frame']) for plain_item, item in zip(plain, flipped))
    with pytest.raises(InputError, match=r'lq_frame_flip: true flips the whole frames of lq_frame, which is off'):
        make_dataset(*train_pairs, lq_frame_flip=True, **AUGMENTED)


def test_lq_frame_batches_need_one_frame_size(train_pairs):
    with pytest.raises(InputError, match=r'batch_size_per_gpu 2 with lq_frame: true needs one image size, but .* '
                                         r'is 48x40 and .*small\.png is 24x20: set resize$'):
        make_dataset(*train_pairs, lq_frame=True, batch_size_per_gpu=2, **AUGMENTED)
    make_dataset(*train_pairs, lq_frame=True, batch_size_per_gpu=2, resize=[40, 36], **AUGMENTED)  # one size; turns


def test_generator_reads_its_global_features_from_the_whole_frame(tmp_path):
    model = frame_reading_model(tmp_path)
    torch.manual_seed(0)
    frame = torch.rand(2, 3, 48, 64)
    crop = frame[..., 8:40, 16:48]
    model.feed_data({'lq': crop, 'gt': crop, 'lq_frame': frame})
    with torch.no_grad():
        from_frame = model.net_g(crop, global_features=model.net_g.global_features(frame))
        torch.testing.assert_close(model.enhance_lq(), from_frame)
        assert not torch.allclose(model.net_g(crop), from_frame)
    model.optimize_parameters(1)  # trains through it
    model.feed_data({'lq': crop, 'gt': crop})
    assert model.lq_frame is None


def test_lq_frame_needs_a_generator_with_global_features(tmp_path):
    with pytest.raises(InputError, match='datasets:train:lq_frame: network_g MSIAGenerator has no global features '
                                         'to read the whole frame with'):
        make_model(tmp_path, train_set={'lq_frame': True})


def test_lq_frame_without_frames_in_the_batches_is_named(tmp_path):
    model = frame_reading_model(tmp_path)
    model.feed_data({'lq': torch.rand(2, 3, 32, 32), 'gt': torch.rand(2, 3, 32, 32)})
    with pytest.raises(InputError, match="datasets:train:lq_frame: the training batches carry no 'lq_frame' "
                                         r'\(PairedLowLightDataset gives it; datasets:train:type is '):
        model.optimize_parameters(1)
