"""ONNX export (msiagan.inference.onnx_export, scripts/model_conversion/export_onnx.py) and onnxruntime
(msiagan.inference.onnx_runtime, msiagan-enhance --onnx): the same output as PyTorch, whole, at odd and tiny sizes,
in tiles and through the command line; bad files named in one line."""
import contextlib
import io
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch
import yaml
from conftest import REPO, load_script, recommended_generator, run_script, unit_scale_generator, wake_global_parts

from msiagan.archs.arch_util import pad_to_multiple
from msiagan.archs.global_branch import area_average
from msiagan.data.low_light import pan_clip
from msiagan.enhance import main as enhance_main
from msiagan.inference import Enhancer, enhance_tensor
from msiagan.inference.onnx_export import OPSET, export_onnx
from msiagan.inference.onnx_runtime import OnnxGenerator
from msiagan.utils.errors import InputError

export_script = load_script('export_onnx')
video_flicker = load_script('video_flicker')

with open(f'{REPO}/options/lol_gan_paper.yml') as f:
    PAPER_NETWORK = {**yaml.safe_load(f)['network_g'], 'num_feat': 8}  # the paper's generator, 8 channels wide
# the shipped generator's parts, its exposure condition included
GRID_FREE_OPTIONS = {'global_branch': True, 'coarse_blocks': 1, 'resample': 'blurred_ae3_up',
                     'exposure_condition': True}


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    """{kind: (PyTorch generator, OnnxGenerator of its export)}: the paper generator, the recommended one (global
    branch awake, coarse blocks) and a grid-free one (resample blurred_ae3_up), 8 channels wide."""
    folder = tmp_path_factory.mktemp('onnx')
    nets = {'paper': (unit_scale_generator(PAPER_NETWORK['act'], num_feat=8), PAPER_NETWORK),
            'recommended': (recommended_generator(8), {'type': 'MSIAGenerator', 'num_feat': 8}),
            'grid_free': (wake_global_parts(unit_scale_generator('lrelu', num_feat=8, **GRID_FREE_OPTIONS)),
                          {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', **GRID_FREE_OPTIONS})}
    result = {}
    for kind, (net, network_opt) in nets.items():
        export_onnx(net, str(folder / f'{kind}.onnx'), network_opt)
        result[kind] = net, OnnxGenerator(str(folder / f'{kind}.onnx'), threads=1)
    return result


@pytest.mark.parametrize('kind', ['paper', 'recommended', 'grid_free'])
@pytest.mark.parametrize('shape', [(1, 333, 517), (2, 37, 21), (1, 8, 8), (1, 5, 3), (1, 1, 1)])
def test_onnxruntime_gives_pytorchs_output(exports, kind, shape):
    net, generator = exports[kind]
    x = torch.rand(shape[0], 3, *shape[1:], generator=torch.Generator().manual_seed(shape[1]))
    with torch.no_grad():
        expected = net(x)
    out = generator(x)
    assert out.shape == expected.shape and out.dtype == torch.float32
    assert (out - expected).abs().max() <= 1e-4


def test_tiles_get_the_whole_images_global_features_computed_once(exports, monkeypatch):
    net, generator = exports['recommended']
    x = torch.rand(1, 3, 150, 110, generator=torch.Generator().manual_seed(1))
    x[..., :48, :48] *= 0.2  # a dark corner, unlike the whole image
    runs = []
    features_session = generator.features_session
    monkeypatch.setattr(generator, 'features_session', type('Spy', (), {
        'run': lambda self, *args: runs.append(args[1]['image'].shape) or features_session.run(*args)})())
    tiled = enhance_tensor(generator, x, tile=48)
    assert runs == [(1, 3, 150, 110)]  # once, on the whole image
    assert (tiled - enhance_tensor(net, x)).abs().max() <= 1e-4
    corner = x[..., :48, :48]
    with torch.no_grad():  # a tile's own features would give another result: the whole image's are used
        assert (generator(corner) - net(corner, net.global_features(x))).abs().max() > 1e-2


def test_global_features_default_to_the_images_own_and_can_be_given(exports):
    net, generator = exports['recommended']
    x = torch.rand(2, 3, 40, 24, generator=torch.Generator().manual_seed(2))
    other = x.flip(-1) * 0.2  # darker
    with torch.no_grad():
        given = net(x, net.global_features(other))
    assert (generator(x, generator.global_features(other)) - given).abs().max() <= 1e-4
    assert (generator(x) - given).abs().max() > 1e-2
    assert torch.equal(generator(x), generator(x, generator.global_features(x)))
    assert exports['paper'][1].global_features(x) is None  # no global parts, no such input


@pytest.mark.parametrize('kind, inputs', [('paper', ['image']), ('recommended', ['image', 'global_features'])])
def test_graph_is_float32_with_dynamic_sizes_its_opset_and_receptive_radius(exports, kind, inputs):
    net, generator = exports[kind]
    model = onnx.load(generator.path)
    assert [value.name for value in model.graph.input] == inputs
    image = model.graph.input[0].type.tensor_type
    assert image.elem_type == onnx.TensorProto.FLOAT
    assert [dim.dim_param != '' for dim in image.shape.dim] == [True, False, True, True]  # N, H, W dynamic
    assert [opset.version for opset in model.opset_import if opset.domain == ''] == [OPSET]
    assert generator.receptive_radius == net.receptive_radius


def test_pad_and_area_average_as_traced_equal_pytorchs(monkeypatch):
    """The forms torch.export traces (gathers sized in the graph), run eagerly, against F.pad and adaptive pooling."""
    inputs = [torch.rand(1, 2, h, w) for h, w in ((1, 1), (3, 5), (7, 9), (8, 16), (13, 6), (33, 17))]
    expected = [(pad_to_multiple(x, 8), area_average(x, 4)) for x in inputs]
    monkeypatch.setattr(torch.compiler, 'is_exporting', lambda: True)
    for x, (padded, averaged) in zip(inputs, expected):
        assert torch.equal(pad_to_multiple(x, 8), padded), x.shape
        assert torch.allclose(area_average(x, 4), averaged, atol=1e-6), x.shape


@pytest.fixture(scope='module')
def shipped_export(tmp_path_factory):
    """The shipped weights exported by the script: (path, the line it printed)."""
    path = tmp_path_factory.mktemp('shipped') / 'msiagan_lol_v1.onnx'
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert run_script(export_script, '-o', path) is None
    return str(path), printed.getvalue()


def write_photos(folder):
    """A dark photo and a well-exposed one, odd sizes."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / 'dark.png'), rng.integers(0, 40, (27, 45, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / 'bright.png'), rng.integers(60, 256, (19, 33, 3), dtype=np.uint8))
    return folder


def enhance(*args):
    with pytest.raises(SystemExit) as stop:
        enhance_main([str(arg) for arg in args])
        raise SystemExit(0)
    return stop.value.code


@pytest.mark.parametrize('options', [[], ['--tile', '16'], ['--network-only'], ['--exposure', '-1.5']])
def test_enhance_onnx_writes_pytorchs_images(shipped_export, tmp_path, options):
    """The well-exposed photo too: the export takes an exposure, so exposure handling renders it as PyTorch does."""
    photos = write_photos(tmp_path / 'in')
    assert enhance('-i', photos, '-o', tmp_path / 'onnx', '--onnx', shipped_export[0], *options) == 0
    assert enhance('-i', photos, '-o', tmp_path / 'torch', '--device', 'cpu', *options) == 0
    for name in ('dark.png', 'bright.png'):
        onnx_out, torch_out = (cv2.imread(str(tmp_path / out / name)).astype(int) for out in ('onnx', 'torch'))
        assert np.abs(onnx_out - torch_out).max() <= 1, (name, options)


def test_an_export_with_an_exposure_condition_renders_the_exposure_it_is_given(exports):
    net, generator = exports['grid_free']
    assert [value.name for value in onnx.load(generator.path).graph.input] == ['image', 'global_features', 'exposure']
    x = torch.rand(3, 3, 37, 21, generator=torch.Generator().manual_seed(3))
    exposure = torch.tensor([float('nan'), 0.05, 0.3])  # NaN: the generator's own choice
    with torch.no_grad():
        expected = torch.cat([net(x[:1]), net(x[1:], exposure=exposure[1:])])
        assert (generator(x, exposure=exposure) - expected).abs().max() <= 1e-4
        assert (generator(x, exposure=0.3) - net(x, exposure=0.3)).abs().max() <= 1e-4
        assert (generator(x, exposure=0.3) - generator(x)).abs().max() > 1e-2
        # tiles get it with the whole image's features, as the generator's
        whole = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(4))
        tiled = enhance_tensor(generator, whole, tile=32, global_features=generator.global_features(whole, 0.15))
        expected = enhance_tensor(net, whole, global_features=net.global_features(whole, 0.15))
        assert (tiled - expected).abs().max() <= 1e-4
    with pytest.raises(InputError, match='give the exposure to global_features, not beside its result'):
        generator(x, generator.global_features(x), exposure=0.1)
    with pytest.raises(InputError, match=f"^{exports['recommended'][1].path}: an exposure was given to a generator "
                                         'without exposure_condition'):
        exports['recommended'][1](x, exposure=0.1)


def test_enhance_onnx_handles_exposure_from_the_range_in_the_file(shipped_export, tmp_path, capsys):
    photos = write_photos(tmp_path / 'in')
    assert enhance('-i', photos, '-o', tmp_path / 'default', '--onnx', shipped_export[0]) == 0
    assert enhance('-i', photos, '-o', tmp_path / 'alone', '--onnx', shipped_export[0], '--network-only') == 0
    assert 'no exposure_range' not in capsys.readouterr().err
    default, alone = (cv2.imread(str(tmp_path / out / 'bright.png')).astype(int) for out in ('default', 'alone'))
    assert np.abs(default - alone).mean() > 20  # a well-exposed photo keeps its exposure, not the generator's


def test_an_export_with_a_range_from_before_the_25th_highlight_percentile_is_named(shipped_export, tmp_path):
    """An export made before exposure_stats.py wrote reference_highlight p25: refused, with what to do."""
    model = onnx.load(shipped_export[0])
    for prop in model.metadata_props:
        if prop.key == 'exposure_range':
            block = json.loads(prop.value)
            del block['reference_highlight']['p25']
            prop.value = json.dumps(block)
    old = tmp_path / 'old.onnx'
    onnx.save(model, str(old))
    with pytest.raises(InputError, match=f'^{old}: exposure_range .*then export_onnx.py again for an ONNX file'):
        OnnxGenerator(str(old))


def test_export_script_reports_the_graph_and_its_parity(shipped_export):
    path, line = shipped_export
    assert line.startswith(f'{path}: opset 18, ')
    # receptive_radius: 74, and 7 of resample blurred_ae3_up
    assert 'inputs image, global_features, exposure, receptive_radius 81' in line
    assert 'exposure range stored' in line
    assert float(line.rsplit('PyTorch| ', 1)[1].split()[0]) <= 1e-4


def test_export_script_names_a_bad_output_name(tmp_path):
    assert run_script(export_script, '-o', tmp_path / 'm.pth') == f'export_onnx.py: error: -o {tmp_path}/m.pth: ' \
        'must end with .onnx'


def test_files_that_are_not_exports_are_named(tmp_path):
    text = tmp_path / 'notes.onnx'
    text.write_text('not a model\n')
    with pytest.raises(InputError, match=f'^{text}: not an ONNX model'):
        OnnxGenerator(str(text))
    other = tmp_path / 'other.onnx'
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node('Identity', ['x'], ['output'])], 'other',
        [onnx.helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1, 3, 4, 4])],
        [onnx.helper.make_tensor_value_info('output', onnx.TensorProto.FLOAT, [1, 3, 4, 4])])
    onnx.save(onnx.helper.make_model(graph), str(other))
    with pytest.raises(InputError, match=f'^{other}: inputs x and outputs output: not a generator exported'):
        OnnxGenerator(str(other))


def test_an_input_onnxruntime_refuses_raises_a_runtime_error(exports):
    with pytest.raises(RuntimeError, match='^onnxruntime: .*image'):
        exports['paper'][1](torch.rand(1, 4, 8, 8))  # 4 channels, not 3


def test_command_line_names_a_bad_model_in_one_line(tmp_path):
    photos = write_photos(tmp_path / 'in')
    (tmp_path / 'weights.pth').write_bytes(b'\x80\x02}q\x00.')
    message = enhance('-i', photos, '-o', tmp_path / 'out', '--onnx', tmp_path / 'weights.pth')
    assert message.startswith(f'msiagan-enhance: error: {tmp_path}/weights.pth: not an ONNX model')
    assert '\n' not in message


def test_missing_onnxruntime_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # import onnxruntime raises ImportError
    message = enhance('-i', write_photos(tmp_path / 'in'), '-o', tmp_path / 'out', '--onnx', tmp_path / 'm.onnx')
    assert message == "msiagan-enhance: error: --onnx needs onnxruntime: pip install 'msiagan[onnx]'"


def test_missing_onnx_stops_the_export_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnx', None)
    assert run_script(export_script, '-o', tmp_path / 'm.onnx') == \
        "export_onnx.py: error: ONNX export needs the onnx package: pip install 'msiagan[onnx]'"
    assert not (tmp_path / 'm.onnx').exists()


def test_training_and_pytorch_inference_do_not_import_onnx():
    code = ('import sys, msiagan.inference, msiagan.enhance, msiagan.models, msiagan.train; '
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('onnx', 'onnxruntime', "
            "'onnxscript')))")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ, 'PYTHONPATH': REPO})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


@pytest.mark.parametrize('option', [['--weights', 'w.pth'], ['-opt', 'o.yml'], ['--param-key', 'params']])
def test_onnx_refuses_options_of_pytorch_weights(tmp_path, option, capsys):
    assert enhance('-i', tmp_path, '-o', tmp_path / 'out', '--onnx', 'm.onnx', *option) == 2
    assert f'--onnx takes the generator from the ONNX file and runs on the CPU: drop {option[0]}' in \
        capsys.readouterr().err


def test_video_frames_smoothed_through_onnxruntime_are_pytorchs(exports, tmp_path):
    """Enhancer.frames averages the export's global features (one tensor) as it does the generator's (a dict)."""
    net, generator = exports['recommended']
    with open(f'{REPO}/options/train/recommended_gan_lol.yml') as f:
        network = {**yaml.safe_load(f)['network_g'], 'num_feat': 8}  # as recommended_generator(8) builds it
    torch.save(net.state_dict(), tmp_path / 'net.pth')
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': network}))
    pytorch, onnxruntime = Enhancer(str(tmp_path / 'net.pth')), Enhancer(onnx=generator.path)
    scene = torch.rand(1, 3, 40, 24, generator=torch.Generator().manual_seed(3)) / 2
    frames = [scene * 1.15 ** i for i in range(4)]  # brighter from frame to frame (no scene cut): the averages lag
    smoothed = [enhancer.frames(25, 0.5) for enhancer in (pytorch, onnxruntime)]
    for x in frames:
        expected = smoothed[0].enhance_tensor(x)
        assert (smoothed[1].enhance_tensor(x) - expected).abs().max() <= 1e-4
    assert (expected - pytorch.enhance_tensor(frames[-1])).abs().max() > 1e-2  # the smoothing shows


@pytest.mark.parametrize('exposure', [0, 0.5])
def test_video_frames_rendered_through_onnxruntime_are_pytorchs(shipped_export, exposure):
    """The shipped export renders a clip's frames as PyTorch does, its rendered global features averaged too: light
    rising from 5% to all of it (through the blend, where frames are rendered at their exposure), at --exposure 0 and
    0.5 (where dark frames are rendered as well)."""
    light = 0.05 * 20 ** np.linspace(0, 1, 8)
    clip = [torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
            for frame in pan_clip(video_flicker.load(None), (64, 48), len(light), 0.0, light, seed=7)]
    pytorch, onnxruntime = Enhancer(fast=True, exposure=exposure), Enhancer(onnx=shipped_export[0], exposure=exposure)
    frames = [enhancer.frames(25, 0.05) for enhancer in (pytorch, onnxruntime)]  # each frame weighs 0.55
    for x in clip:
        expected = frames[0].enhance_tensor(x)
        torch.testing.assert_close(frames[1].enhance_tensor(x), expected, atol=1e-4, rtol=0)
    assert 'rendered global features' in frames[1].smoother.averages  # the last frames were rendered


def test_a_generator_with_an_exposure_condition_alone_smooths_video_as_its_export_does(tmp_path):
    """A generator whose only global part is an exposure condition has no features to average for its own choice:
    its output mean is averaged over a clip's frames, dark to bright ones rendered included, through PyTorch and
    through onnxruntime alike."""
    network = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', 'exposure_condition': True}
    net = wake_global_parts(unit_scale_generator('lrelu', num_feat=8, exposure_condition=True))
    exposure_range = {'pairs': 3, 'input_mean': {'p2': 0.001, 'p98': 0.02}, 'reference_mean': {'p10': 0.1, 'p98': 0.4},
                      'reference_highlight': {'p25': 0.5}}
    torch.save(net.state_dict(), tmp_path / 'net.pth')
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': network, 'exposure_range': exposure_range}))
    export_onnx(net, str(tmp_path / 'net.onnx'), network, exposure_range=exposure_range)
    pytorch, onnxruntime = Enhancer(str(tmp_path / 'net.pth')), Enhancer(onnx=str(tmp_path / 'net.onnx'))
    assert not pytorch.has_global_features and not onnxruntime.has_global_features and pytorch.renders_exposure
    light = [0.02, 0.02, 0.05, 0.3, 1.0]
    clip = [torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
            for frame in pan_clip(video_flicker.load(None), (64, 48), len(light), 0.0, light, seed=9)]
    frames = [enhancer.frames(25, 0.05) for enhancer in (pytorch, onnxruntime)]
    for level, x in zip(light, clip):
        expected = frames[0].enhance_tensor(x)
        torch.testing.assert_close(frames[1].enhance_tensor(x), expected, atol=1e-4, rtol=0)
        if level < 1:  # the generator's own choice ran: its output mean is averaged
            assert 'output mean' in frames[0].smoother.averages, level
    assert 'rendered global features' in frames[0].smoother.averages

