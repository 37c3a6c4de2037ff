"""MSIAGANModel in-process: losses, conditioning, optimizers."""
import pytest
import torch
from conftest import feed, make_model

from msiagan.utils.errors import InputError


def test_one_step_logs_every_term_and_updates_both_networks(tmp_path):
    model = make_model(tmp_path)
    feed(model)
    g_before = [p.detach().clone() for p in model.net_g.parameters()]
    d_before = [p.detach().clone() for p in model.net_d.parameters()]
    model.optimize_parameters(1)
    assert {'l_g_pix', 'l_g_mac', 'l_g_ssim', 'l_g_gan', 'l_g_total', 'l_d_real', 'l_d_fake', 'out_d_real',
            'out_d_fake'} <= set(model.get_current_log())
    log = model.get_current_log()
    assert log['l_g_total'] == pytest.approx(log['l_g_pix'] + log['l_g_mac'] + log['l_g_ssim'] + log['l_g_gan'],
                                             rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.net_g.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.net_d.parameters()))


def test_zero_gan_weight_trains_the_generator_alone(tmp_path):
    """gan_opt loss_weight 0: D is never run or updated; G takes the content losses' step, logged as its total."""
    model = make_model(tmp_path, gan_opt={'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0})
    feed(model)
    g_before = [p.detach().clone() for p in model.net_g.parameters()]
    d_before = [p.detach().clone() for p in model.net_d.parameters()]
    calls = []
    model.net_d.register_forward_hook(lambda module, inputs, output: calls.append(module))
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert not calls and set(log) == {'l_g_pix', 'l_g_mac', 'l_g_ssim', 'l_g_total'}
    assert log['l_g_total'] == pytest.approx(log['l_g_pix'] + log['l_g_mac'] + log['l_g_ssim'], rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.net_g.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.net_d.parameters()))


def test_discriminator_is_conditioned_on_the_input(tmp_path):
    model = make_model(tmp_path)
    feed(model)
    seen = []
    model.net_d.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    model.optimize_parameters(1)
    assert len(seen) == 3  # G's step on the output, then D on the reference and on the output
    for x, image in zip(seen, (model.output, model.gt, model.output)):
        assert x.shape[1] == 6
        torch.testing.assert_close(x[:, :3], model.lq)
        torch.testing.assert_close(x[:, 3:], image.detach())


def test_unconditional_discriminator_from_basicsr(tmp_path):
    model = make_model(tmp_path, {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 8}, condition_d=False)
    feed(model)
    seen = []
    model.net_d.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    model.optimize_parameters(1)
    assert 'l_g_gan' in model.get_current_log()
    assert len(seen) == 3 and all(x.shape[1] == 3 for x in seen)  # G's step, then D on real and on fake
    torch.testing.assert_close(seen[1], model.gt)


def test_any_torch_optimizer_by_name(tmp_path):
    model = make_model(tmp_path)
    assert isinstance(model.optimizer_g, torch.optim.Adam)
    assert isinstance(model.optimizer_d, torch.optim.Adadelta)
    assert model.optimizer_d.defaults['rho'] == 0.95 and model.optimizer_d.defaults['eps'] == 1e-7


def test_optimizer_without_lr_takes_its_default(tmp_path):
    model = make_model(tmp_path, optim_d={'type': 'Adadelta', 'rho': 0.9})
    assert model.optimizer_d.defaults['lr'] == 1.0 and model.optimizer_d.defaults['rho'] == 0.9


def test_discriminator_channels_must_fit_condition_d(tmp_path):
    with pytest.raises(InputError, match='network_d:num_in_ch 6 does not fit train:condition_d False: D is fed the '
                                         'enhanced image alone, 3 channels'):
        make_model(tmp_path, condition_d=False)
    with pytest.raises(InputError, match='network_d:num_in_ch 3 does not fit train:condition_d True: D is fed the '
                                         'input and the enhanced image, 6 channels'):
        make_model(tmp_path, {'type': 'PatchGANDiscriminator', 'num_in_ch': 3, 'num_feat': 16})


def test_unknown_optimizer_is_named(tmp_path):
    with pytest.raises(InputError, match="optimizer type 'Adamm'"):
        make_model(tmp_path, optim_d={'type': 'Adamm', 'lr': 1.0})


def test_discriminator_loss_weight(tmp_path):
    """The D gradient scales with d_loss_weight: the same first step with weights 0.5 and 1."""
    grads = {}
    for weight in (0.5, 1.0):
        torch.manual_seed(1)
        model = make_model(tmp_path, d_loss_weight=weight)
        feed(model)
        model.optimize_parameters(1)
        grads[weight] = next(model.net_d.parameters()).grad.clone()
    torch.testing.assert_close(grads[0.5] * 2, grads[1.0], rtol=1e-4, atol=1e-7)


def test_ema_generator_follows_batchnorm_statistics(tmp_path):
    """The EMA copy of a BatchNorm generator carries the live running statistics (BasicSR's EMA does not)."""
    model = make_model(tmp_path, network_g={'type': 'UNetGenerator', 'num_feat': 8, 'num_down': 5})
    feed(model)
    model.optimize_parameters(1)
    live = dict(model.net_g.named_buffers())
    for name, buffer in model.net_g_ema.named_buffers():
        torch.testing.assert_close(buffer, live[name])
    assert live['down.1.2.running_mean'].abs().sum() > 0


def test_ema_starts_as_the_loaded_live_generator(tmp_path):
    """From weights without global_context (strict_load_g false) and with a params_ema unlike params: the EMA
    starts as the live generator, not with its own random context layers or from the other key."""
    plain = make_model(tmp_path)
    params = plain.net_g.state_dict()
    checkpoint = tmp_path / 'plain.pth'
    torch.save({'params': params, 'params_ema': {name: value + 1 for name, value in params.items()}}, checkpoint)
    model = make_model(tmp_path, network_g=dict(plain.opt['network_g'], global_context=True),
                       path={'pretrain_network_g': str(checkpoint), 'param_key_g': 'params', 'strict_load_g': False})
    live, ema = model.net_g.state_dict(), model.net_g_ema.state_dict()
    assert any(name.startswith('context.') for name in live)
    for name, value in live.items():
        assert torch.equal(ema[name], value), name
    assert torch.equal(live['conv_last.weight'], params['conv_last.weight'])


def test_weights_that_do_not_fit_or_are_not_weights_are_named(tmp_path):
    model = make_model(tmp_path)
    path = tmp_path / 'net_g.pth'
    torch.save({'params': model.net_g.state_dict()}, path)
    model.load_network(model.net_g, str(path), True, 'params')
    checkpoint = path.read_bytes()
    network_g = model.opt['network_g']
    wider = make_model(tmp_path, network_g=dict(network_g, num_feat=network_g['num_feat'] * 2))
    with pytest.raises(InputError, match=f'^{path}: does not fit MSIAGenerator \\(size mismatch for '):
        wider.load_network(wider.net_g, str(path), True, 'params')
    torch.save({'other': {}}, path)
    with pytest.raises(InputError, match=f"^{path}: has no 'params' weights"):
        model.load_network(model.net_g, str(path), True, 'params')
    with pytest.raises(InputError, match=f'^{tmp_path}/gone.pth: weights file does not exist$'):
        model.load_network(model.net_g, str(tmp_path / 'gone.pth'), True, 'params')
    for broken in (b'hello\n', checkpoint[:len(checkpoint) // 2]):  # not a pickle; a truncated checkpoint
        path.write_bytes(broken)
        with pytest.raises(InputError, match=f'^{path}: not a PyTorch weights file'):
            model.load_network(model.net_g, str(path), True, 'params')
