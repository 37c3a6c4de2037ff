"""msiagan-enhance: every input case, tiling, checkpoint handling and the weights_only refusal."""
import os
from os import path as osp

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import NETWORK, REPO, FullDiskOpen, recommended_generator, unit_scale_generator, wake_global_parts
from conftest import run_enhance as run
from PIL import Image, ImageOps

import msiagan.utils.writing
from msiagan.archs import MSIAGenerator
from msiagan.data.image_io import read_photo
from msiagan.inference import Enhancer, enhance_tensor, load_generator, load_network_options
from msiagan.utils.errors import InputError

@pytest.fixture
def inputs(tmp_path):
    """A folder with colour, grayscale, RGBA, 16-bit, truncated and non-image files."""
    folder = tmp_path / 'in'
    folder.mkdir()
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 60, (21, 30, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / 'colour.jpg'), colour)
    cv2.imwrite(str(folder / 'grey.png'), colour[..., 0])
    cv2.imwrite(str(folder / 'rgba.png'), np.dstack([colour, rng.integers(0, 256, (21, 30), dtype=np.uint8)]))
    cv2.imwrite(str(folder / 'deep.png'), colour.astype(np.uint16) * 257)
    (folder / 'truncated.png').write_bytes((folder / 'grey.png').read_bytes()[:60])
    (folder / 'notes.txt').write_text('not an image')
    return folder


def test_folder_keeps_size_depth_and_layout(inputs, checkpoint, tmp_path, capsys):
    out = tmp_path / 'out'
    assert run('-i', str(inputs), '-o', str(out), '--weights', checkpoint, '--compare') == 1  # one failed
    captured = capsys.readouterr()
    assert 'notes.txt: not an image or video, skipped' in captured.err
    assert 'truncated.png: cannot read this image' in captured.err
    assert 'enhanced 4 image(s)' in captured.out and '1 skipped, 1 failed' in captured.out
    for name in ('colour.jpg', 'grey.png', 'rgba.png', 'deep.png'):
        before, after = cv2.imread(str(inputs / name), -1), cv2.imread(str(out / name), -1)
        assert after.shape == before.shape and after.dtype == before.dtype, name
        assert (out / (osp.splitext(name)[0] + '_compare.png')).is_file()
    np.testing.assert_array_equal(cv2.imread(str(out / 'rgba.png'), -1)[..., 3],
                                  cv2.imread(str(inputs / 'rgba.png'), -1)[..., 3])
    assert cv2.imread(str(out / 'deep.png'), -1).max() > 255  # really 16-bit output


def test_an_image_that_cannot_be_written_is_named_and_the_rest_go_on(inputs, checkpoint, tmp_path, capsys,
                                                                     monkeypatch):
    out = tmp_path / 'out'
    monkeypatch.setattr(msiagan.utils.writing, 'open', FullDiskOpen('grey.png'), raising=False)  # a full disk there
    assert run('-i', str(inputs), '-o', str(out), '--weights', checkpoint) == 1
    captured = capsys.readouterr()
    assert f'error: {out}/grey.png: cannot write (no space left on device)\n' in captured.err
    assert 'enhanced 3 image(s)' in captured.out and '2 failed' in captured.out  # grey.png and truncated.png
    assert sorted(os.listdir(out)) == ['colour.jpg', 'deep.png', 'rgba.png']  # nothing of grey.png is left


def test_output_is_the_networks_colour_and_grey(inputs, checkpoint, tmp_path):
    """The CLI's pixels are the network's on the RGB image, in BGR order (grey: their luma), to one level."""
    out = tmp_path / 'out'
    assert run('-i', str(inputs / 'deep.png'), '-o', str(out), '--weights', checkpoint) == 0
    assert run('-i', str(inputs / 'grey.png'), '-o', str(out), '--weights', checkpoint) == 0
    net = load_generator(NETWORK, checkpoint)
    rgb = cv2.imread(str(inputs / 'deep.png'), -1)[..., ::-1].astype(np.float32) / 65535
    expected = enhance_tensor(net, torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(cv2.imread(str(out / 'deep.png'), -1) / 65535 - expected[..., ::-1]).max() <= 1.5 / 65535
    grey = np.repeat(cv2.imread(str(inputs / 'grey.png'), -1)[..., None], 3, axis=2).astype(np.float32) / 255
    grey_out = enhance_tensor(net, torch.from_numpy(grey.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()
    luma = cv2.cvtColor(grey_out, cv2.COLOR_RGB2GRAY) * 255
    assert np.abs(cv2.imread(str(out / 'grey.png'), -1) - luma).max() <= 1


@pytest.mark.parametrize('extension', ['.png', '.tif'])
def test_grey_with_alpha_stays_grey_and_keeps_its_alpha(checkpoint, tmp_path, extension):
    rng = np.random.default_rng(1)
    grey_alpha = np.dstack([rng.integers(0, 60, (12, 20)), rng.integers(0, 256, (12, 20))]).astype(np.uint8)
    Image.fromarray(grey_alpha, 'LA').save(tmp_path / f'la{extension}')
    assert run('-i', str(tmp_path / f'la{extension}'), '-o', str(tmp_path / 'out'), '--weights', checkpoint) == 0
    out = cv2.imread(str(tmp_path / 'out' / f'la{extension}'), -1)
    assert out.shape == (12, 20, 4)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    np.testing.assert_array_equal(out[..., 3], grey_alpha[..., 1])


def test_single_file_and_glob(inputs, checkpoint, tmp_path):
    assert run('-i', str(inputs / 'grey.png'), '-o', str(tmp_path / 'one'), '--weights', checkpoint) == 0
    assert os.listdir(tmp_path / 'one') == ['grey.png']
    assert run('-i', str(inputs / 'c*.jpg'), '-o', str(tmp_path / 'glob'), '--weights', checkpoint) == 0
    assert os.listdir(tmp_path / 'glob') == ['colour.jpg']


def test_param_key_choice(inputs, checkpoint, tmp_path):
    outputs = {}
    for key in ('params', 'params_ema'):
        run('-i', str(inputs / 'colour.jpg'), '-o', str(tmp_path / key), '--weights', checkpoint, '--param-key', key)
        outputs[key] = cv2.imread(str(tmp_path / key / 'colour.jpg'))
    run('-i', str(inputs / 'colour.jpg'), '-o', str(tmp_path / 'auto'), '--weights', checkpoint)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'auto' / 'colour.jpg')), outputs['params_ema'])
    assert not np.array_equal(outputs['params'], outputs['params_ema'])


def test_bare_state_dict_with_options(inputs, tmp_path):
    weights = tmp_path / 'bare.pth'
    torch.save(MSIAGenerator(num_feat=8, act='lrelu').state_dict(), weights)
    options = tmp_path / 'opts.yml'
    options.write_text(yaml.safe_dump({'network_g': NETWORK}))
    assert run('-i', str(inputs / 'grey.png'), '-o', str(tmp_path / 'o'), '--weights', str(weights), '-opt',
               str(options)) == 0


class RunsCode:

    def __reduce__(self):
        return (os.mkdir, ('/tmp/msiagan-pwned-by-pickle', ))


def test_weights_that_would_run_code_are_refused(inputs, tmp_path, capsys):
    weights = tmp_path / 'evil.pth'
    torch.save({'params': RunsCode()}, weights)
    (tmp_path / 'evil.yml').write_text(yaml.safe_dump({'network_g': NETWORK}))
    code = run('-i', str(inputs / 'grey.png'), '-o', str(tmp_path / 'o'), '--weights', str(weights))
    assert 'refused, loading it would run code' in str(code)
    assert not osp.exists('/tmp/msiagan-pwned-by-pickle')


@pytest.mark.parametrize('content', [b'hello\n', b'{}', bytes(range(256))])
def test_files_that_are_not_weights_are_named(inputs, tmp_path, content):
    weights = tmp_path / 'notes.pth'
    weights.write_bytes(content)
    (tmp_path / 'notes.yml').write_text(yaml.safe_dump({'network_g': NETWORK}))
    code = run('-i', str(inputs / 'grey.png'), '-o', str(tmp_path / 'o'), '--weights', str(weights))
    assert str(code).startswith(f'msiagan-enhance: error: {weights}: not a PyTorch weights file')


def test_missing_options_is_explained(inputs, tmp_path):
    weights = tmp_path / 'lonely.pth'
    torch.save(MSIAGenerator(num_feat=8).state_dict(), weights)
    code = run('-i', str(inputs / 'grey.png'), '-o', str(tmp_path / 'o'), '--weights', str(weights))
    assert 'no options file found' in str(code) and 'give -opt' in str(code)


@pytest.mark.parametrize('options', [{'act': 'none'}, {'act': 'lrelu'}, {'act': 'lrelu', 'global_context': True},
                                     {'act': 'lrelu', 'resample': 'blurred', 'coarse_blocks': 1}, 'recommended'])
def test_tiled_agrees_with_whole_image(options):
    torch.manual_seed(0)
    if options == 'recommended':  # options/train/recommended_gan_lol.yml: global branch and 3 coarse blocks
        net = recommended_generator()
        net.conv_last.weight.data.mul_(0.1)
        torch.nn.init.constant_(net.conv_last.bias, 0.5)  # outputs inside [0, 1], where clamping hides nothing
    else:  # every tile must get the whole image's global features, which here matter
        net = wake_global_parts(MSIAGenerator(num_feat=8, **options).eval())
    x = torch.rand(1, 3, 131, 261)
    x[..., 100:, :] *= 0.2
    whole = enhance_tensor(net, x)
    assert options != 'recommended' or 0 < whole.min() and whole.max() < 1
    tiled = enhance_tensor(net, x, tile=48)  # default pad: receptive_radius
    assert (whole - tiled).abs().max() < 1e-6


def far_sighted_generator(**options):
    """An 8-channel lrelu generator in which far pixels show in the output, whose outputs lie inside [0, 1]
    (where clamping hides nothing)."""
    net = unit_scale_generator('lrelu', num_feat=8, **options)
    net.conv_last.weight.data.mul_(0.1)
    torch.nn.init.constant_(net.conv_last.bias, 0.5)
    return net


def test_tiles_get_the_context_the_network_sees_by_default():
    """3 coarse blocks see 74 pixels away: the default pad (receptive_radius) keeps tiles exact, 24 does not."""
    net = far_sighted_generator(coarse_blocks=3)
    x = torch.rand(1, 3, 131, 197)
    whole = enhance_tensor(net, x)
    assert 0 < whole.min() and whole.max() < 1
    assert (whole - enhance_tensor(net, x, tile=48)).abs().max() < 1e-6
    assert (whole - enhance_tensor(net, x, tile=48, tile_pad=24)).abs().max() > 5e-5


def test_tiled_cli_agrees_with_whole_image_cli(tmp_path):
    """16-bit output in 16-pixel tiles with the default context: the whole image's, up to the rounding of a
    difference of 1e-6 (1/65535 is 1.5e-5)."""
    net = far_sighted_generator()
    weights = tmp_path / 'unit.pth'
    torch.save({'params': net.state_dict()}, weights)
    (tmp_path / 'unit.yml').write_text(yaml.safe_dump({'network_g': NETWORK}))
    image = tmp_path / 'deep.png'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 16000, (70, 100, 3), dtype=np.uint16))
    for folder, tile in (('whole', '0'), ('tiled', '16')):
        assert run('-i', str(image), '-o', str(tmp_path / folder), '--weights', str(weights), '--tile', tile) == 0
    whole = cv2.imread(str(tmp_path / 'whole' / 'deep.png'), -1).astype(int)
    tiled = cv2.imread(str(tmp_path / 'tiled' / 'deep.png'), -1).astype(int)
    assert whole.std() > 100  # the output varies with the input, so the comparison means something
    assert np.abs(whole - tiled).max() <= 1


@pytest.mark.parametrize('width, tile', [(1581, 0), (1582, 512)])  # 2,499,561 and 2,501,142 pixels
def test_images_above_2_5_megapixels_are_tiled_by_default(width, tile, checkpoint, tmp_path, monkeypatch):
    cv2.imwrite(str(tmp_path / 'large.png'), np.zeros((1581, width, 3), np.uint8))
    tiles = []

    def record_tile(net, x, tile, tile_pad):
        tiles.append(tile)
        return x  # no need to run the network on 2.5 MP

    monkeypatch.setattr('msiagan.inference.enhancer.enhance_tensor', record_tile)
    assert run('-i', str(tmp_path / 'large.png'), '-o', str(tmp_path / 'out'), '--weights', checkpoint) == 0
    assert tiles == [tile]


def test_refuses_to_overwrite_inputs_or_merge_names(inputs, checkpoint, tmp_path, capsys):
    code = run('-i', str(inputs), '-o', str(inputs), '--weights', checkpoint)
    assert 'would overwrite the input' in str(code)
    (tmp_path / 'other').mkdir()
    cv2.imwrite(str(tmp_path / 'other' / 'grey.png'), np.zeros((8, 8), np.uint8))
    code = run('-i', str(tmp_path / '*' / 'grey.png'), '-o', str(tmp_path / 'out'), '--weights', checkpoint)
    assert 'would both be written as' in str(code)
    code = run('-i', str(inputs / 'grey.png'), '-o', str(inputs / 'grey.png'), '--weights', checkpoint)
    assert 'grey.png: is a file, not a folder' in str(code)
    code = run('-i', str(inputs / 'grey.png'), '-o', str(inputs / 'grey.png' / 'sub'), '--weights', checkpoint)
    assert 'grey.png/sub: cannot create this folder (Not a directory)' in str(code)
    cv2.imwrite(str(tmp_path / 'other' / 'grey.bmp'), np.zeros((8, 8), np.uint8))
    code = run('-i', str(tmp_path / 'other' / 'grey.*'), '-o', str(tmp_path / 'out'), '--weights', checkpoint,
               '--compare')
    assert 'would both be written as' in str(code) and 'grey_compare.png' in str(code)
    capsys.readouterr()
    assert run('-i', str(inputs), '-o', str(tmp_path / 'o'), '--tile', '-1') == 2
    assert '--tile and --tile-pad take 0 or more pixels' in capsys.readouterr().err
    with pytest.raises(InputError, match='tile -1, tile_pad None: take 0 or more pixels'):
        enhance_tensor(MSIAGenerator(num_feat=8), torch.rand(1, 3, 16, 16), tile=-1)


@pytest.mark.parametrize('orientation', range(1, 9))
def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path, orientation):
    stored = Image.fromarray(np.random.default_rng(orientation).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / 'photo.jpg'
    stored.save(path, quality=100, exif=exif)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path))).astype(np.float32) / 255
    rgb, layout = read_photo(str(path))
    np.testing.assert_array_equal(rgb, upright)


def test_experiment_copy_gets_the_recorded_network_overrides(tmp_path):
    """BasicSR copies the options file unchanged and records the command line above it."""
    copy = tmp_path / 'lol_gan.yml'
    copy.write_text('# GENERATE TIME: now\n# CMD:\n# msiagan/train.py -opt options/lol_gan.yml --force_yml '
                    'network_g:act=none train:total_iter=3 --auto_resume\n\n'
                    + yaml.safe_dump({'network_g': NETWORK, 'train': {'total_iter': 100}}))
    assert load_network_options(str(copy)) == dict(NETWORK, act=None)


def test_shipped_weights_load_and_are_the_default(tmp_path, inputs):
    weights = osp.join(REPO, 'msiagan', 'weights', 'msiagan_lol_v1.pth')
    for options in ('msiagan/weights/msiagan_lol_v1.yml', 'options/test_lol.yml',
                    'options/train/shipped_lol_v1/8_jpeg_inputs.yml'):
        net = load_generator(load_network_options(osp.join(REPO, options)), weights, 'params')
        assert net(torch.rand(1, 3, 24, 32)).shape == (1, 3, 24, 32)
    assert run('-i', str(inputs / 'grey.png'), '-o', str(tmp_path / 'default')) == 0
    before, after = (cv2.imread(str(folder / 'grey.png'), -1) for folder in (inputs, tmp_path / 'default'))
    assert after.mean() > before.mean() + 20  # the LOL-v1 weights brighten a dark image


def test_enhancer_runs_in_float16_as_in_float32():
    """Enhancer(half=True) casts the image as it casts the weights (the shipped weights, a 24x16 image)."""
    img = np.random.default_rng(0).integers(0, 64, (16, 24, 3), dtype=np.uint8)
    full, half = Enhancer().enhance_bgr_uint8(img), Enhancer(half=True).enhance_bgr_uint8(img)
    assert half.dtype == np.uint8 and half.shape == img.shape
    assert np.abs(half.astype(int) - full.astype(int)).max() <= 3
