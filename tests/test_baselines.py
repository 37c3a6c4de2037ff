"""The shipped LOL-v1 options files build and take a training step with MSIAGANModel (networks narrowed to
8 channels to keep it quick: types, losses, optimizers and schedulers are the files' own); the U-Net."""
from os import path as osp

import pytest
import torch
import yaml
from torch.nn import functional as F
from basicsr.losses import build_loss
from basicsr.models import build_model, lr_scheduler
from conftest import REPO

from msiagan.archs import UNetGenerator

OPTIONS = ['lol_gan.yml', 'lol_gan_paper.yml', 'train/recommended_gan_lol.yml',
           'train/recommended_content_lol.yml', 'train/baseline_unet_gan_lol.yml', 'train/baseline_rrdb_gan_lol.yml',
           'train/shipped_lol_v1/1_content.yml', 'train/shipped_lol_v1/2_warm_restart.yml',
           'train/shipped_lol_v1/3_frame_flip.yml']


@pytest.mark.parametrize('name', OPTIONS)
def test_options_file_trains_and_validates_a_step(name, tmp_path):
    with open(osp.join(REPO, 'options', name)) as f:
        opt = yaml.safe_load(f)
    opt.update(num_gpu=0, is_train=True, dist=False, rank=0, world_size=1, auto_resume=False)
    for network in ('network_g', 'network_d'):
        opt[network] = dict(opt[network], num_feat=8, **({'num_grow_ch': 4} if 'num_grow_ch' in opt[network] else {}))
    opt['path'].update(models=str(tmp_path), training_states=str(tmp_path), visualization=str(tmp_path),
                       pretrain_network_g=None, pretrain_network_d=None)  # earlier stages' checkpoints: not in a clone
    model = build_model(opt)
    torch.manual_seed(0)
    gt = torch.rand(2, 3, 64, 64)
    batch = {'lq': gt / 8, 'gt': gt}
    if opt['datasets']['train'].get('lq_frame'):  # each crop's whole low-light frame, as PairedLowLightDataset gives
        batch['lq_frame'] = torch.rand(2, 3, 96, 80) / 8
    model.feed_data(batch)
    logits = []
    model.net_d.register_forward_hook(lambda module, inputs, output: logits.append(output.detach().float()))
    d_before = [p.detach().clone() for p in model.net_d.parameters()]
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert all(torch.isfinite(torch.tensor(v)) for v in log.values())
    # every loss term of the file at its weight, on the output of the step (G's update comes first)
    train, output = opt['train'], model.output.detach().float()  # bf16 options: losses are float32
    expected = {'l_g_pix': train['pixel_opt']['loss_weight'] * (output - gt).abs().mean(),
                'l_g_mac': build_loss(train['mac_opt'])(output, gt),
                'l_g_ssim': build_loss(train['ssim_opt'])(output, gt)}
    if train['gan_opt']['loss_weight']:
        expected['l_g_gan'] = train['gan_opt']['loss_weight'] * F.softplus(-logits[0]).mean()  # D's first verdict
    else:  # content only: D neither run nor updated
        assert not logits
        assert all(torch.equal(p, q) for p, q in zip(d_before, model.net_d.parameters()))
    assert {term for term in log if term.startswith('l_g_') and term != 'l_g_total'} == set(expected)
    for term, value in expected.items():
        assert log[term] == pytest.approx(value.item(), rel=1e-5), term
    model.feed_data({'lq': gt[:1, :, :40, :60] / 8, 'gt': gt[:1, :, :40, :60]})
    model.test()
    assert model.output.shape == (1, 3, 40, 60)


def test_baselines_train_like_lol_gan():
    """docs/comparing.md's "the same model, data and losses as options/lol_gan.yml": only the
    name and network_g differ."""
    files = {}
    for name in ('lol_gan.yml', 'train/baseline_unet_gan_lol.yml', 'train/baseline_rrdb_gan_lol.yml'):
        with open(osp.join(REPO, 'options', name)) as f:
            files[name] = yaml.safe_load(f)
    reference = files.pop('lol_gan.yml')
    for name, opt in files.items():
        assert {key for key in set(opt) | set(reference) if opt.get(key) != reference.get(key)} == {'name', 'network_g'}



def test_content_recipe_differs_from_recommended_only_in_losses_and_schedule():
    """options/train/recommended_content_lol.yml's header: recommended_gan_lol.yml without the adversarial term, over
    44,000 iterations with a warm restart at 1e-4 for the last 6,000."""
    files = {}
    for name in ('recommended_gan_lol.yml', 'recommended_content_lol.yml'):
        with open(osp.join(REPO, 'options', 'train', name)) as f:
            files[name] = yaml.safe_load(f)
    reference, content = files['recommended_gan_lol.yml'], files['recommended_content_lol.yml']
    assert {key for key in set(content) | set(reference) if content.get(key) != reference.get(key)} == {'name', 'train'}
    train = content['train']
    assert {key for key in train if train[key] != reference['train'][key]} == {'gan_opt', 'scheduler', 'total_iter'}
    assert train['gan_opt']['loss_weight'] == 0 and train['total_iter'] == 44000
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=train['optim_g']['lr'])
    scheduler_opt = dict(train['scheduler'])
    scheduler = getattr(lr_scheduler, scheduler_opt.pop('type'))(optimizer, **scheduler_opt)
    lrs = [optimizer.param_groups[0]['lr']]  # lrs[k]: iteration k's (BasicSR steps the scheduler before each)
    for _ in range(train['total_iter']):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]['lr'])
    assert lrs[1] == pytest.approx(2e-4) and lrs[38000] == pytest.approx(1e-6, abs=1e-8)
    assert lrs[38001] == pytest.approx(1e-4, rel=0.01) and lrs[44000] == pytest.approx(1e-6, abs=1e-8)


def test_unet_is_pix2pix_unet_256():
    net = UNetGenerator()
    assert sum(p.numel() for p in net.parameters()) == 54_419_459  # pix2pix's unet_256 with 3 -> 3 channels
    assert sum(isinstance(m, torch.nn.Dropout) for m in net.modules()) == 3  # its three deepest 512-ch decoders
    for num_down in (5, 6, 9):  # pix2pix's rule: num_down - 5 such blocks
        dropouts = sum(isinstance(m, torch.nn.Dropout) for m in UNetGenerator(num_feat=4, num_down=num_down).modules())
        assert dropouts == num_down - 5
    with torch.no_grad():
        assert net.eval()(torch.rand(1, 3, 37, 53)).shape == (1, 3, 37, 53)
