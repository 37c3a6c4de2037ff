"""Videos: msiagan-enhance round-trips a clip (frames, size, rate, audio), temporal smoothing (0 is frame by frame,
tiles, scene cuts, the flicker figure of docs/enhancing.md) and each bad input in one line."""
import argparse
import sys
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import FullDiskOpen, load_script
from conftest import run_enhance as run

import msiagan.data.video_io
from msiagan.data.low_light import pan_clip
from msiagan.enhance import main as enhance_main
from msiagan.inference import Enhancer
from msiagan.inference.temporal import SceneCuts
from msiagan.utils.errors import InputError

video_flicker = load_script('video_flicker')
benchmark_video = load_script('benchmark_video')

FPS = Fraction(30000, 1001)
SIZE = (64, 48)  # W, H


def write_clip(path, frames, fps=FPS, audio=True, codec='libx264', options=None, rotation=0):
    """Encode ``frames`` (H, W, 3) uint8 RGB at ``fps`` (shown turned by ``rotation`` degrees), with a second of a
    440 Hz tone as AAC if ``audio``."""
    with av.open(str(path), 'w', options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.set_display_rotation(rotation)
        stream.pix_fmt = 'yuv420p' if stream.height % 2 == stream.width % 2 == 0 else 'yuv444p'
        sound = container.add_stream('aac', rate=48000, layout='mono') if audio else None
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))
        container.mux(stream.encode())
        if sound is not None:
            for start in range(0, 48000, 1024):
                tone = np.sin(2 * np.pi * 440 * (start + np.arange(1024)) / 48000).astype(np.float32)[None] * 0.1
                samples = av.AudioFrame.from_ndarray(tone, format='fltp', layout='mono')
                samples.sample_rate, samples.pts = 48000, start
                container.mux(sound.encode(samples))
            container.mux(sound.encode())


def read_clip(path):
    """(frames as (H, W, 3) uint8 RGB, frame rate, the audio packets' bytes, rotation) of a video file."""
    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
        audio = [bytes(packet) for packet in container.demux(audio=0) if packet.size] if container.streams.audio \
            else []
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    return [frame.to_ndarray(format='rgb24') for frame in decoded], rate, audio, decoded[0].rotation


def dark_frames(count, seed=0):
    """``count`` dark noisy frames of SIZE, a gradient that drifts, so that they differ."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(10, 60, SIZE[0])[None, :, None]
    return [np.clip(ramp + i + rng.normal(0, 4, (SIZE[1], SIZE[0], 3)), 0, 255).astype(np.uint8) for i in range(count)]


@pytest.fixture
def clip(tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    write_clip(folder / 'clip.mp4', dark_frames(12), rotation=90)  # as a phone held upright records
    return folder / 'clip.mp4'


def test_a_clip_round_trips_with_its_frames_size_rate_and_audio(clip, checkpoint, tmp_path, capsys):
    out = tmp_path / 'out'
    assert run('-i', str(clip), '-o', str(out), '--weights', checkpoint) == 0
    assert 'enhanced 0 image(s) and 1 video(s)' in capsys.readouterr().out
    frames, rate, audio, rotation = read_clip(out / 'clip.mp4')
    source_frames, source_rate, source_audio, source_rotation = read_clip(clip)
    assert len(frames) == len(source_frames) == 12 and frames[0].shape == (SIZE[1], SIZE[0], 3)
    assert rate == source_rate == FPS and rotation == source_rotation == 90
    assert audio and audio == source_audio  # copied packet by packet, unchanged
    assert sorted(path.name for path in out.iterdir()) == ['clip.mp4']  # no partial file left


def test_an_odd_sized_clip_without_audio_in_tiles_beside_an_image(checkpoint, tmp_path):
    folder = tmp_path / 'in'
    folder.mkdir()
    odd = [np.ascontiguousarray(frame[:47, :63]) for frame in dark_frames(5)]
    write_clip(folder / 'odd.mkv', odd, audio=False)
    cv2.imwrite(str(folder / 'photo.png'), odd[0])
    assert run('-i', str(folder), '-o', str(tmp_path / 'out'), '--weights', checkpoint, '--tile', '32') == 0
    frames, rate, audio, _ = read_clip(tmp_path / 'out' / 'odd.mkv')
    assert len(frames) == 5 and frames[0].shape == (47, 63, 3) and rate == FPS and audio == []
    assert (tmp_path / 'out' / 'photo.png').is_file()


def test_colours_keep_their_colour_space(tmp_path):
    """An HD video tagged BT.709 is converted to RGB and back by BT.709 and tagged so (a player would show an
    untagged one by BT.709 too, but PyAV would convert it by BT.601: reds off by about 10 levels)."""
    colour = np.zeros((SIZE[1], SIZE[0], 3), np.uint8) + np.array([200, 60, 30], np.uint8)
    with av.open(str(tmp_path / 'hd.mp4'), 'w') as container:
        stream = container.add_stream('libx264', rate=FPS, options={'crf': '0'})
        stream.width, stream.height, stream.pix_fmt = *SIZE, 'yuv444p'
        for tag in msiagan.data.video_io.COLOUR_TAGS[:3]:
            setattr(stream.codec_context, tag, 1)  # BT.709
        frame = av.VideoFrame.from_ndarray(colour, format='rgb24').reformat(format='yuv444p', dst_colorspace=1)
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with msiagan.data.video_io.VideoInput(str(tmp_path / 'hd.mp4')) as source:
        msiagan.data.video_io.write_enhanced(source, str(tmp_path / 'out.mp4'), lambda rgb: rgb)
    with av.open(str(tmp_path / 'out.mp4')) as container:
        context = container.streams.video[0].codec_context
        assert [getattr(context, tag) for tag in msiagan.data.video_io.COLOUR_TAGS[:3]] == [1, 1, 1]
        decoded = next(container.decode(video=0))
        assert np.abs(decoded.reformat(format='rgb24', src_colorspace=1).to_ndarray().astype(int) - colour).max() <= 3


def frame_tensors(frames):
    return [torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255 for frame in frames]


@pytest.fixture(scope='module')
def shipped():
    return Enhancer(fast=True)  # exposure handling on: its numbers are smoothed too


def test_smoothing_0_is_frame_by_frame_exactly_and_smoothing_changes_it(shipped):
    frames = frame_tensors(dark_frames(6))
    off, on = shipped.frames(FPS, 0), shipped.frames(FPS, 0.5)
    smoothed = []
    for x in frames:
        assert torch.equal(off.enhance_tensor(x), shipped.enhance_tensor(x))
        smoothed.append(on.enhance_tensor(x))
    assert torch.equal(smoothed[0], shipped.enhance_tensor(frames[0]))  # the first frame is taken as it is
    assert (smoothed[-1] - shipped.enhance_tensor(frames[-1])).abs().max() > 1e-3


def test_a_well_exposed_clip_is_rendered_at_its_own_exposure_as_a_photo_is(shipped):
    """The shipped generator's exposure condition renders a well-exposed video's frames, as it renders a photo: a
    steady clip (averages of equal values change nothing) gives the photo's output in every frame, not the rescaled
    one."""
    bright, = frame_tensors(pan_clip(video_flicker.load(None), SIZE, 1, 0.0, [1.0], seed=3))
    assert shipped.exposure_control.plan(bright[0])['weight'] == 1
    photo = shipped.enhance_tensor(bright)
    rescaled = Enhancer(fast=True, render_exposure=False).enhance_tensor(bright)
    assert (photo - rescaled).abs().max() > 1e-2
    frames = shipped.frames(FPS, 0.5)
    for _ in range(3):
        torch.testing.assert_close(frames.enhance_tensor(bright), photo, atol=1e-5, rtol=0)


def test_an_average_a_frame_does_not_compute_is_dropped_not_taken_up_stale(shipped, monkeypatch):
    """One scene (no cut: the noise of 1% light would read as one) going from full light to dim and back: a bright
    frame renders and skips the generator's own choice, a dim one (at --exposure 0) only runs that choice; each drops
    the averages of what it did not run."""
    monkeypatch.setattr(SceneCuts, 'is_cut', lambda self, frame: False)
    light = [1.0, 1.0, 0.01, 0.01, 1.0]
    clip = frame_tensors(pan_clip(video_flicker.load(None), SIZE, len(light), 0.0, light, seed=4))
    frames = shipped.frames(FPS, 0.01)  # a time constant short enough that each frame's light decides at once
    rendered, generated = {'rendered global features'}, {'global features'}
    for level, x in zip(light, clip):
        frames.enhance_tensor(x)
        kept = set(frames.smoother.averages)
        ran, skipped = (rendered, generated) if level == 1 else (generated, rendered)
        assert ran <= kept and not skipped & kept, level
        assert 'output mean' not in kept  # the output is steady by its averaged global features


def test_smoothing_through_the_exposure_blend_does_not_jump(shipped):
    """Light rising from 10% to all of it, through the blend from the generator's exposure to the frame's own: where
    the blend starts, the smoothed output's largest jump (video_flicker.py's) is less than twice frame by frame's (the
    generator's output mean, averaged again on top of its averaged global features, made it 16 levels here, against
    4 frame by frame)."""
    light = 0.1 * 10 ** np.linspace(0, 1, 40)
    clip = list(pan_clip(video_flicker.load(None), (96, 64), len(light), 0.0, light, seed=5))
    weights = [shipped.exposure_control.plan(x[0])['weight'] for x in frame_tensors(clip)]
    assert weights[0] == 0 and weights[-1] == 1  # the clip goes through the blend
    frame_by_frame, smoothed = (video_flicker.measure(shipped, clip, 20, seconds)[1] for seconds in (0, 0.5))
    assert smoothed < 2 * frame_by_frame


def with_range(checkpoint):
    """``checkpoint`` (its path) with an exposure_range in the yml beside it."""
    with open(checkpoint.replace('.pth', '.yml'), 'a') as f:
        yaml.safe_dump({'exposure_range': {'pairs': 3, 'input_mean': {'p2': 0.001, 'p98': 0.02}, 'reference_mean': {
            'p10': 0.1, 'p98': 0.4}, 'reference_highlight': {'p25': 0.5}}}, f)
    return checkpoint


def test_a_generator_without_global_features_is_steadied_by_its_averaged_output_mean(checkpoint):
    """A generator whose output no averaged features steady (no global parts) is rescaled, frame by frame, to its
    output's mean averaged over the frames: less than half the flicker of each frame on its own."""
    enhancer = Enhancer(with_range(checkpoint))
    assert not enhancer.has_global_features and enhancer.exposure_handling == 'on'
    enhancer.net = lambda x: x.clamp(0, 1) ** 0.3  # brightens noise as a trained generator does (random weights don't)
    clip = list(pan_clip(video_flicker.load(None), (160, 96), 30, 0.0, [0.05] * 30, seed=6))
    frame_by_frame, smoothed = (video_flicker.measure(enhancer, clip, 30, seconds)[0] for seconds in (0, 0.5))
    assert smoothed < 0.5 * frame_by_frame


@pytest.mark.parametrize('fps, seconds', [(0, 0.5), (25, -1), (float('nan'), 0.5)])
def test_frames_need_a_frame_rate_and_0_or_more_seconds(shipped, fps, seconds):
    with pytest.raises(InputError, match=f'fps {fps}, temporal smoothing {seconds} s: need fps > 0 and 0 s or more'):
        shipped.frames(fps, seconds)


@pytest.mark.parametrize('light, exposure', [(None, 0), ([0.05, 0.3, 1, 1], 0), ([0.05] * 3, 0.5)],
                         ids=['dark', 'rendered in the blend', 'dark rendered at an exposure'])
def test_smoothed_frames_in_tiles_are_the_whole_frames(shipped, light, exposure):
    clip = dark_frames(4) if light is None else pan_clip(video_flicker.load(None), SIZE, len(light), 0.0, light, seed=8)
    enhancer = shipped.at_exposure(exposure)
    whole, tiled = enhancer.frames(FPS, 0.05), enhancer.frames(FPS, 0.05, tile=16)
    for x in frame_tensors(clip):
        torch.testing.assert_close(tiled.enhance_tensor(x), whole.enhance_tensor(x), atol=1e-5, rtol=0)
    assert ('rendered global features' in whole.smoother.averages) == (light is not None)


def test_a_scene_cut_starts_the_averages_afresh(shipped):
    photo = video_flicker.load(None)
    first = list(pan_clip(photo, SIZE, 8, 0.2, [0.05] * 8, seed=1))
    second = list(pan_clip(np.ascontiguousarray(photo[:, ::-1, ::-1]), SIZE, 3, 0.0, [0.2] * 3, seed=2))
    frames = shipped.frames(FPS, 2.0)
    outputs = [frames.enhance_tensor(x) for x in frame_tensors(first + second)]
    assert frames.cuts == 1
    assert torch.equal(outputs[8], shipped.enhance_tensor(frame_tensors(second)[0]))  # as if it were the first
    cuts = SceneCuts()
    assert not any(cuts.is_cut(x[0]) for x in frame_tensors(first))  # a pan with fresh noise is no cut


def test_flicker_with_smoothing_is_at_most_half_and_a_ramp_is_followed(shipped):
    """The figure of docs/enhancing.md at 160x96, 45 frames (the docs: 640x360, 120)."""
    args = argparse.Namespace(
        size=(160, 96), frames=45, fps=30.0, pan=0.2, exposure=0.05, ramp=4.0, temporal_smoothing=0.5)
    results = video_flicker.flicker_table(shipped, video_flicker.load(None), args)
    assert results['constant', 0.5][0] <= 0.5 * results['constant', 0.0][0]
    (*_, first, last), (*_, smoothed_first, smoothed_last) = results['ramp', 0.0], results['ramp', 0.5]
    # the ramp brightens the frame-by-frame output visibly (the shipped weights: 108 to 117 grey levels), and the
    # smoothed output follows most of it
    assert last - first > 5 and smoothed_last - smoothed_first > 0.75 * (last - first)


def test_the_video_benchmark_reports_frames_per_second_at_each_size(monkeypatch, capsys):
    monkeypatch.setattr(benchmark_video, 'SIZES', ((64, 48), (96, 64)))
    threads = torch.get_num_threads()  # as it is: the script sets it for the process
    benchmark_video.main(['--frames', '3', '--threads', str(threads)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f'CPU, {threads} threads, 3 frames at 30 fps, temporal smoothing 0.5 s')
    for line, size in zip(lines[2:], ('64x48', '96x64')):
        rate, enhancing = float(line.split()[1]), float(line.split()[2].rstrip('%'))
        assert line.startswith(size) and rate > 0 and 0 < enhancing < 100


def test_temporal_smoothing_takes_0_or_more_seconds(clip, tmp_path, capsys):
    assert run('-i', str(clip), '-o', str(tmp_path / 'out'), '--temporal-smoothing', '-1') == 2
    assert '--temporal-smoothing: -1: must be 0 or more seconds' in capsys.readouterr().err


def test_missing_pyav_is_one_line_before_anything_is_enhanced(clip, checkpoint, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'av', None)  # import av raises ImportError
    cv2.imwrite(str(clip.parent / 'photo.png'), dark_frames(1)[0])
    with pytest.raises(SystemExit) as stop:
        enhance_main(['-i', str(clip.parent), '-o', str(tmp_path / 'out'), '--weights', checkpoint])
    assert stop.value.code == f"msiagan-enhance: error: {clip}: videos need PyAV: pip install 'msiagan[video]'"
    assert not (tmp_path / 'out').exists()


def errors(capsys):
    """The lines of standard error that report an error (the tiny checkpoint's note on exposure aside)."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith('error')]


def bad_video(folder, kind):
    """A file of each kind of bad input in ``folder``; returns its path."""
    if kind == 'not a video':
        path = folder / 'notes.mp4'
        path.write_bytes(b'not a video' * 100)
    elif kind in ('truncated', 'truncated before its index'):
        path = folder / 'cut.mp4'
        index_first = {'movflags': 'faststart'} if kind == 'truncated' else None
        noise = np.random.default_rng(0).integers(0, 256, (40, SIZE[1], SIZE[0], 3), dtype=np.uint8)
        write_clip(path, list(noise), audio=False, options=index_first)  # noise: the frames, not the index, fill it
        data = path.read_bytes()
        path.write_bytes(data[:len(data) * 2 // 3])
    else:  # an unknown codec: an MPEG-4 AVI whose FourCC says something no decoder knows
        path = folder / 'odd.avi'
        write_clip(path, dark_frames(3), audio=False, codec='mpeg4')
        path.write_bytes(path.read_bytes().replace(b'FMP4', b'ZZZZ'))
    return path


UNREADABLE = 'cannot read this video (truncated, or not a video: Invalid data found when processing input)'


@pytest.mark.parametrize('kind, message', [
    ('not a video', f'notes.mp4: {UNREADABLE}'),
    ('truncated before its index', f'cut.mp4: {UNREADABLE}'),  # an MP4's index is written last
    ('unsupported codec', 'odd.avi: cannot decode its video (a codec FFmpeg does not know)'),
])
def test_a_video_that_cannot_be_read_is_named_and_leaves_nothing(kind, message, checkpoint, tmp_path,
                                                                 capsys):
    folder = tmp_path / 'in'
    folder.mkdir()
    path = bad_video(folder, kind)
    assert run('-i', str(path), '-o', str(tmp_path / 'out'), '--weights', checkpoint) == 1
    assert errors(capsys) == [f'error: {path.parent}/{message}']
    assert list((tmp_path / 'out').iterdir()) == []


def test_a_truncated_video_keeps_the_frames_it_had_in_a_playable_file(checkpoint, tmp_path, capsys):
    folder = tmp_path / 'in'
    folder.mkdir()
    path = bad_video(folder, 'truncated')
    assert run('-i', str(path), '-o', str(tmp_path / 'out'), '--weights', checkpoint) == 1
    (err,) = errors(capsys)
    partial = tmp_path / 'out' / 'cut.partial.mp4'
    assert err.startswith(f'error: {path}: stops decoding after ') and err.endswith(f'enhanced frames are in {partial}')
    kept = int(err.split(' frames are in')[0].split()[-2])
    frames, rate, _, _ = read_clip(partial)
    assert 0 < len(frames) == kept < 40 and rate == FPS
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['cut.partial.mp4']


def test_a_full_disk_is_named_and_leaves_nothing(clip, checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(msiagan.data.video_io, 'open', FullDiskOpen('clip'), raising=False)
    assert run('-i', str(clip), '-o', str(tmp_path / 'out'), '--weights', checkpoint) == 1
    assert errors(capsys) == [f'error: {tmp_path}/out/clip.mp4: cannot write (no space left on device)']
    assert list((tmp_path / 'out').iterdir()) == []
