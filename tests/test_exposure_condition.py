"""The exposure condition: MSIAGenerator's exposure_condition, the references' exposures in training batches, and
training and validation at a given exposure (MSIAGANModel)."""
import cv2
import numpy as np
import pytest
import torch
from conftest import feed, make_model, unit_scale_generator, wake_global_parts, write_pairs

from msiagan.data import PairedLowLightDataset
from msiagan.inference.fast_inference import optimize_for_inference
from msiagan.metrics.exposure import linear_mean
from msiagan.utils.errors import InputError

CONDITIONED = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', 'global_branch': True,
               'exposure_condition': True}


def conditioned_generator():
    return unit_scale_generator('lrelu', num_feat=8, global_branch=True, exposure_condition=True)


def test_a_new_condition_leaves_the_generator_as_it_was():
    """Zero-initialised: weights trained without the condition load (strict=False) and compute what they did,
    whatever exposure is asked for."""
    plain = wake_global_parts(unit_scale_generator('lrelu', num_feat=8, global_branch=True))
    net = conditioned_generator()
    missing, unexpected = net.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(key.startswith('exposure_condition.') for key in missing)
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        expected = plain(x)
        torch.testing.assert_close(net(x), expected)
        torch.testing.assert_close(net(x, exposure=torch.tensor([0.01, 0.5])), expected)


def test_the_exposure_asked_for_changes_the_output_and_reaches_tiles():
    net = wake_global_parts(conditioned_generator())
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        dark, bright, own = net(x, exposure=0.02), net(x, exposure=torch.tensor([0.3])), net(x)
        assert (dark - bright).abs().mean() > 1e-3 and (dark - own).abs().mean() > 1e-3
        # a tile, given the whole image's global features at that exposure, computes what the whole image does
        torch.testing.assert_close(net(x, global_features=net.global_features(x, 0.02)), dark)
        batch = net(torch.cat([x, x]), exposure=torch.tensor([0.02, 0.3]))
        torch.testing.assert_close(batch, torch.cat([dark, bright]), rtol=1e-4, atol=1e-5)


def test_an_exposure_needs_the_condition_and_goes_to_global_features():
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(InputError, match='without exposure_condition'):
        unit_scale_generator('lrelu', num_feat=8)(x, exposure=0.1)
    net = conditioned_generator()
    with pytest.raises(InputError, match='give the exposure to global_features'):
        net(x, global_features=net.global_features(x), exposure=0.1)


def test_training_items_carry_the_whole_references_exposure(tmp_path):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a', 'b'], size=(48, 40))
    dataset = PairedLowLightDataset({'name': 't', 'phase': 'train', 'dataroot_lq': lq_dir, 'dataroot_gt': gt_dir,
                                     'io_backend': {'type': 'disk'}, 'gt_size': 16})
    for index, stem in enumerate(('a', 'b')):
        whole = linear_mean(cv2.imread(f'{gt_dir}/{stem}.png'))
        crops = [dataset[index] for _ in range(8)]
        assert all(item['gt_exposure'] == pytest.approx(whole, rel=1e-5) for item in crops)
        crop_means = [float((item['gt'] ** 2.2).mean()) for item in crops]
        assert max(crop_means) - min(crop_means) > 1e-3  # the crops differ; what they carry is the whole's


@pytest.mark.parametrize('cache', [None, 'memory'])
def test_a_reference_padded_up_to_gt_size_carries_its_own_exposure_not_the_paddings(tmp_path, cache):
    lq_dir, gt_dir = write_pairs(str(tmp_path), ['a'], size=(12, 10))
    gt = np.zeros((10, 12, 3), np.uint8)
    gt[:, :4] = 255  # mirrored by the padding to 24x24, the white band would count more than its share
    cv2.imwrite(f'{gt_dir}/a.png', gt)
    dataset = PairedLowLightDataset({'name': 't', 'phase': 'train', 'dataroot_lq': lq_dir, 'dataroot_gt': gt_dir,
                                     'io_backend': {'type': 'disk'}, 'gt_size': 24, 'cache': cache})
    item = dataset[0]
    assert item['gt'].shape[-2:] == (24, 24)
    assert item['gt_exposure'] == pytest.approx(4 / 12, rel=1e-6)


def test_training_steps_are_given_the_references_exposures_in_their_share(tmp_path, monkeypatch):
    model = make_model(tmp_path, network_g=CONDITIONED, exposure_given_probability=0.5)
    asked = []
    condition = model.net_g.exposure_condition
    monkeypatch.setattr(condition, 'forward', lambda x, exposure, statistics: asked.append(exposure) or {})
    feed(model)  # seeds the random state once
    model.gt_exposure = torch.tensor([0.1, 0.2])
    for step in range(1, 21):
        model.optimize_parameters(step)
    assert 3 <= len(asked) <= 17 and all(torch.equal(given, torch.tensor([0.1, 0.2])) for given in asked)


def test_bad_exposure_options_are_named(tmp_path):
    for bad in (2, '0.5', True):
        with pytest.raises(InputError, match=f'exposure_given_probability {bad!r} is not a number in'):
            make_model(tmp_path, network_g=CONDITIONED, exposure_given_probability=bad)
    with pytest.raises(InputError, match='train:exposure_given_probability: network_g MSIAGenerator takes no'):
        make_model(tmp_path, exposure_given_probability=0.5)
    model = make_model(tmp_path, network_g=CONDITIONED, exposure_given_probability=1)
    feed(model)  # a batch without 'gt_exposure'
    with pytest.raises(InputError, match="carry no 'gt_exposure'"):
        model.optimize_parameters(1)


def test_validation_at_the_references_exposures(tmp_path):
    """exposure_given: reference scores each image rendered at its reference's linear mean."""
    lq_dir, gt_dir = write_pairs(str(tmp_path / 'val'), ['a', 'b'], size=(32, 24))
    model = make_model(tmp_path, network_g=CONDITIONED)
    wake_global_parts(model.net_g_ema)
    asked = []
    model.net_g_ema.exposure_condition.register_forward_hook(lambda module, inputs, output: asked.append(inputs[1]))
    options = {'name': 'refs', 'type': 'PairedLowLightDataset', 'phase': 'val', 'dataroot_lq': lq_dir,
               'dataroot_gt': gt_dir, 'io_backend': {'type': 'disk'}}
    loader = torch.utils.data.DataLoader(PairedLowLightDataset(options))
    model.validation(loader, 1, None, False)
    assert not asked  # the generator's own exposure
    loader.dataset.opt['exposure_given'] = 'reference'
    model.validation(loader, 1, None, False)
    expected = [linear_mean(cv2.cvtColor(cv2.imread(f'{gt_dir}/{stem}.png'), cv2.COLOR_BGR2RGB)) for stem in 'ab']
    assert [float(given) for given in asked] == pytest.approx(expected, rel=1e-4)
    loader.dataset.opt['exposure_given'] = 'yes'
    with pytest.raises(InputError, match="exposure_given 'yes' is not reference"):
        model.validation(loader, 1, None, False)


def test_the_fast_path_renders_the_exposure_asked_for():
    net = wake_global_parts(conditioned_generator())
    fast = optimize_for_inference(net)
    x = torch.rand(2, 3, 21, 35)
    exposure = torch.tensor([0.05, 0.4])
    with torch.no_grad():
        torch.testing.assert_close(fast(x, exposure=exposure), net(x, exposure=exposure), atol=1e-4, rtol=0)
        torch.testing.assert_close(fast(x), net(x), atol=1e-4, rtol=0)
        with pytest.raises(InputError, match='give the exposure to global_features'):
            fast(x, global_features=fast.global_features(x), exposure=exposure)


def test_exposure_handling_renders_the_exposure_it_sets_for_the_images_it_changes():
    """Step 2 asks a generator that takes an exposure for its target, for the images it changes only, and brings
    the result to the target exactly; dark photos keep the generator's output as it is."""
    from msiagan.inference.exposure import ExposureControl, ExposureRange
    x = torch.cat([torch.full((1, 3, 24, 32), 0.1), torch.rand(1, 3, 24, 32) ** 0.5])  # dark; well exposed
    asked = []

    def render(images, exposure):
        asked.append((images.clone(), exposure.clone()))
        return (images ** 0.5).clamp(0, 1)  # rendered: another image than the generator's own

    control = ExposureControl(ExposureRange(0.001, 0.02, 0.1, 0.4, 0.5))
    seen = []
    out = control.run(lambda images: seen.append(images.clone()) or images ** 0.3, x, render=render)
    # the generator chooses the dark photo's exposure; the well-exposed one is rendered at its own, once, from the
    # photo as it is (not brought within the training inputs' range, as for the generator's own choice)
    assert len(seen) == 1 and torch.equal(seen[0], x[:1]) and torch.equal(out[0], x[0] ** 0.3)
    assert len(asked) == 1 and len(asked[0][0]) == 1 and torch.equal(asked[0][0][0], x[1])
    target = float((x[1] ** 2.2).mean())  # a well-exposed photo: its own exposure
    assert float(asked[0][1]) == pytest.approx(target, rel=0.02)
    assert float((out[1] ** 2.2).mean()) == pytest.approx(target, rel=0.01)
    rescaled = control.run(lambda images: images ** 0.3, x)
    assert (out[1] - rescaled[1]).abs().max() > 0.01  # rendered, not the generator's own output rescaled


def test_a_blended_exposure_is_rendered_after_the_generator_chooses_its_own():
    """Between the training inputs and references, the target mixes the generator's exposure with the photo's:
    the generator runs first, then renders at the target."""
    from msiagan.inference.exposure import ExposureControl, ExposureRange
    control = ExposureControl(ExposureRange(0.001, 0.02, 0.1, 0.4, 0.5))
    x = torch.full((1, 3, 24, 32), 0.05 ** (1 / 2.2))  # linear mean 0.05: in the blend
    plan = control.plan(x[0])
    assert 0 < plan['weight'] < 1
    seen, asked = [], []
    out = control.run(lambda images: seen.append(images) or images ** 0.3, x,
                      render=lambda images, exposure: asked.append((images, exposure)) or images ** 0.5)
    target = control.target_mean(seen[0][0] ** 0.3, plan)
    assert len(seen) == 1 and float(asked[0][1]) == pytest.approx(target, rel=1e-4)
    assert (seen[0] ** 2.2).mean() < 0.045 and torch.equal(asked[0][0], x)  # chosen within the range, rendered as is
    assert float((out[0] ** 2.2).mean()) == pytest.approx(target, rel=0.01)


def test_exposure_stops_are_rendered_within_the_training_references_exposures():
    """--exposure asks the condition for the target moved by EV stops, bounded to the references' exposures (0.1 to
    0.4 here) or to the default target where that lies outside; the rest is rescaled. A dark photo is rendered from
    what the generator saw, and not at all where the bound keeps its target. The output's linear mean is the target
    times 2 ** EV wherever the render reaches it, and grows with EV."""
    from msiagan.inference.exposure import ExposureControl, ExposureRange
    x = torch.cat([torch.full((1, 3, 24, 32), 0.02), (torch.rand(1, 3, 24, 32) * 0.5) ** (1 / 2.2)])  # dark; bright
    seen = x[0] * (0.001 / 0.02 ** 2.2) ** (1 / 2.2)  # step 1: the dark photo brought up to the training inputs'
    generator_mean = float(seen.mean()) ** (0.5 * 2.2)  # the generator's own choice for it, seen ** 0.5: 0.032

    def run(ev):
        asked = []
        out = ExposureControl(ExposureRange(0.001, 0.02, 0.1, 0.4, 0.5), exposure=ev).run(
            lambda images: images ** 0.5, x,
            render=lambda images, e: asked.append((images.clone(), e.clone())) or images ** 0.3)
        return out, (torch.cat([images for images, _ in asked]), torch.cat([e for _, e in asked])) if asked else None

    out, (sources, asked) = run(1)  # the dark photo is rendered too, at twice its generator's choice
    torch.testing.assert_close(sources[0], seen)
    assert asked[0] == pytest.approx(2 * generator_mean, rel=1e-3)
    assert float((out[0] ** 2.2).mean()) == pytest.approx(2 * generator_mean, rel=0.01)
    assert run(0)[1][1].numel() == 1  # by default only the bright photo is rendered
    own = float(run(0)[1][1][0])
    assert run(4)[1][1].tolist() == pytest.approx([0.4, 0.4], rel=1e-3)
    darker, (_, asked) = run(-4)  # the dark photo's target is below the bound already: its output is rescaled
    assert asked.tolist() == pytest.approx([0.1], rel=1e-3)
    torch.testing.assert_close(darker[0], (seen ** (0.5 * 2.2) / 16) ** (1 / 2.2))
    means = [(run(ev)[0] ** 2.2).mean(dim=(1, 2, 3)) for ev in (-4, -2, -1, 0, 1, 2, 4)]
    assert all((later > earlier).all() for earlier, later in zip(means, means[1:]))
    assert float(means[2][1]) == pytest.approx(own / 2, rel=0.01)  # -1 EV: half the photo's own exposure


def test_an_enhancer_renders_with_a_generator_that_takes_an_exposure(tmp_path):
    def highlight(image):
        return min(float(torch.quantile((image[0] ** 2.2).amax(dim=0).flatten(), 0.99)), 0.5)
    import yaml
    from msiagan.inference import Enhancer
    net = wake_global_parts(conditioned_generator())
    with torch.no_grad():
        net.conv_last.bias += 0.6  # outputs about mid-grey, so that their exposure can be set
    torch.save({'params': net.state_dict()}, tmp_path / 'net.pth')
    network_g = {'type': 'MSIAGenerator', 'num_feat': 8, 'act': 'lrelu', 'global_branch': True,
                 'exposure_condition': True}
    (tmp_path / 'net.yml').write_text(yaml.safe_dump({'network_g': network_g, 'exposure_range': {
        'pairs': 3, 'input_mean': {'p2': 0.001, 'p98': 0.02}, 'reference_mean': {'p10': 0.1, 'p98': 0.4},
        'reference_highlight': {'p25': 0.5}}}))
    x = (torch.rand(1, 3, 24, 32) * 0.5) ** (1 / 2.2)  # well exposed (linear mean 0.25): step 2 keeps it
    rendering, rescaling = (Enhancer(str(tmp_path / 'net.pth'), fast=fast, render_exposure=render)
                            for fast, render in ((True, True), (False, False)))
    assert rendering.renders_exposure and not rescaling.renders_exposure
    rendered, rescaled = rendering.enhance_tensor(x), rescaling.enhance_tensor(x)
    target = float((x ** 2.2).mean()) * 0.5 / highlight(x)  # lifted by its highlights' headroom
    for out in (rendered, rescaled):
        assert float((out ** 2.2).mean()) == pytest.approx(target, rel=0.01)
    assert (rendered - rescaled).abs().max() > 1e-3
    torch.testing.assert_close(rendering.enhance_tensor(x, tile=16), rendered, rtol=0, atol=1e-4)


def test_train_only_g_trains_the_named_parts_and_keeps_the_rest(tmp_path):
    model = make_model(tmp_path, network_g=CONDITIONED, exposure_given_probability=1,
                       train_only_g=['exposure_condition'])
    before = {name: value.detach().clone() for name, value in model.net_g.named_parameters()}
    feed(model)
    model.gt_exposure = torch.tensor([0.1, 0.2])
    for step in (1, 2):
        model.optimize_parameters(step)
    for name, value in model.net_g.named_parameters():
        assert torch.equal(value, before[name]) != name.startswith('exposure_condition.'), name
    with pytest.raises(InputError, match="train:train_only_g: MSIAGenerator has no part 'head_x'"):
        make_model(tmp_path, network_g=CONDITIONED, train_only_g=['head_x'])
    with pytest.raises(InputError, match="train:train_only_g 'exposure_condition': give a list"):
        make_model(tmp_path, network_g=CONDITIONED, train_only_g='exposure_condition')
    with pytest.raises(InputError, match=r"train:train_only_g \['exposure_condition'\] with exposure_given_probabili"
                                         r"ty 0.5: .* nothing to train: set exposure_given_probability: 1"):
        make_model(tmp_path, network_g=CONDITIONED, exposure_given_probability=0.5,
                   train_only_g=['exposure_condition'])
