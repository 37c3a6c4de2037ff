"""MSIA-GAN training: a pix2pix-style conditional GAN on top of BasicSR's SRGANModel."""
from collections import OrderedDict

import torch
from basicsr.losses import build_loss
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from msiagan.metrics.exposure import GAMMA
from msiagan.utils.distributed import flagged_on_any_process
from msiagan.utils.errors import InputError, TrainingError
from msiagan.utils.weights import LOAD_ERRORS, unreadable_weights

from .atomic_checkpoint import AtomicCheckpointMixin
from .distributed_mixin import DistributedModelMixin
from .fast_training import FastTrainingMixin, in_chunks
from .preemption import StopOnSignalMixin
from .tensorboard_images import TensorboardImagesMixin


@MODEL_REGISTRY.register()
class MSIAGANModel(FastTrainingMixin, StopOnSignalMixin, TensorboardImagesMixin, DistributedModelMixin,
                   AtomicCheckpointMixin, SRGANModel):
    """Paired enhancement GAN: a generator and a (conditional) discriminator, trained in turn each step.

    Generator loss: gan_opt (adversarial, on D's verdict) + pixel_opt (L1Loss, the MAE) + mac_opt (MACLoss)
    + ssim_opt (SSIMLoss); each content term is optional and weighted by its loss_weight. Discriminator
    loss: d_loss_weight * (BCE(D(real), 1) + BCE(D(fake), 0)), computed by gan_opt (GANLoss 'vanilla').

    Options under ``train`` besides SRGANModel's:
        condition_d (bool): D sees cat[lq, image] (pix2pix, 6 channels); False: the image alone, for
            unconditional discriminators such as BasicSR's own. Default: True.
        d_loss_weight (float): Weight of the discriminator loss. Default: 0.5 (pix2pix and the paper).
        gan_opt's loss_weight 0: content-only training. D is neither run nor updated (the recommended generator's
            steps run 1.6x faster, docs/speed.md), and is saved as it was built or loaded, so the run resumes and
            restarts like any other.
        optim_g, optim_d: ``type`` is any torch.optim class name (Adam, AdamW, Adadelta, ...); the other
            keys are its arguments.
        skip_nonfinite (bool): True: a NaN or infinite loss skips the update it belongs to (a G loss: the whole
            step), with a warning. False: it stops training with a one-line error naming the iteration and the
            loss, before any update or save. Default: False.
        exposure_given_probability (float): For a generator with an exposure condition (MSIAGenerator's
            exposure_condition): the share of training steps whose whole batch is asked for its references'
            exposures ('gt_exposure'); the other steps leave the exposure to the generator. Default: 0.
        train_only_g (list of str): Train only these parts of the generator (the names of its top-level modules,
            e.g. [exposure_condition]); the rest stays as loaded. Default: all of it.
        Both leave parts of G without gradients in some steps: a distributed run needs find_unused_parameters: true.
        channels_last, mixed_precision, compile, generator_chunk: training speed (msiagan.models.fast_training).
    Distributed (msiagan.models.distributed_mixin) on GPUs and CPUs; checkpoints written atomically
    (msiagan.models.atomic_checkpoint); SIGTERM and SIGUSR1 stop it after a step with a checkpoint
    (msiagan.models.preemption). With TensorBoard, validation logs pictures too (msiagan.models.tensorboard_images).
    Options of a validation dataset besides its own: exposure_given: reference — each image is enhanced at its
    reference's exposure (its linear mean) through the exposure condition, rather than at the generator's own.
    Logged: l_g_pix, l_g_mac, l_g_ssim, l_g_gan, l_g_total, l_d_real, l_d_fake, out_d_real, out_d_fake (content-only:
    the first three and l_g_total).
    """

    def init_training_settings(self):
        train_opt = self.opt['train']
        for key in ('perceptual_opt', 'ldl_opt'):
            if train_opt.get(key):
                raise InputError(f'train: {key} is not supported by MSIAGANModel')
        for key in ('gan_opt', 'optim_g', 'optim_d'):
            if not train_opt.get(key):
                raise InputError(f'train: {key} is missing (MSIAGANModel needs it)')
        if not self.opt.get('network_d'):
            raise InputError('network_d is missing (MSIAGANModel needs a discriminator)')
        self.check_discriminator_channels(train_opt.get('condition_d', True))
        if train_opt.get('train_only_g') is not None:
            self.freeze_generator_but(train_opt['train_only_g'])
        super().init_training_settings()
        if self.ema_decay > 0 and not self.opt['path'].get('resume_state'):
            # BasicSR builds net_g_ema apart and loads it from pretrain_network_g's params_ema, whatever
            # param_key_g says; layers that file lacks (strict_load_g: false) keep their own random init
            self.model_ema(0)  # so the EMA starts as the live generator, as loaded
        self.cri_mac = build_loss(train_opt['mac_opt']).to(self.device) if train_opt.get('mac_opt') else None
        self.cri_ssim = build_loss(train_opt['ssim_opt']).to(self.device) if train_opt.get('ssim_opt') else None
        self.condition_d = train_opt.get('condition_d', True)
        self.d_loss_weight = train_opt.get('d_loss_weight', 0.5)
        self.trains_d = train_opt['gan_opt'].get('loss_weight', 1.0) != 0
        self.reads_frames = self.opt.get('datasets', {}).get('train', {}).get('lq_frame', False)
        if self.reads_frames:
            self.check_generator_reads_frames()
        self.exposure_given_probability = train_opt.get('exposure_given_probability', 0)
        if isinstance(self.exposure_given_probability, bool) or \
                not isinstance(self.exposure_given_probability, (int, float)) or \
                not 0 <= self.exposure_given_probability <= 1:
            raise InputError(f'train:exposure_given_probability {self.exposure_given_probability!r} is not a number '
                             'in [0, 1]')
        if self.exposure_given_probability:
            self.check_generator_takes_exposure('train:exposure_given_probability')
        if 0 < self.exposure_given_probability < 1:
            self.check_unused_parameters_allowed('train:exposure_given_probability')
        only = train_opt.get('train_only_g')
        if only is not None and set(only) <= {'exposure_condition'} and self.exposure_given_probability < 1:
            raise InputError(f'train:train_only_g {only} with exposure_given_probability '
                             f'{self.exposure_given_probability}: a step not given the exposure does not use the '
                             'condition, so it would have nothing to train: set exposure_given_probability: 1')

    def freeze_generator_but(self, parts):
        """train:train_only_g: every parameter of G outside ``parts`` (names of its top-level modules) frozen."""
        if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
            raise InputError(f'train:train_only_g {parts!r}: give a list of the generator\'s parts, e.g. '
                             '[exposure_condition]')
        self.check_unused_parameters_allowed('train:train_only_g')
        net_g = self.get_bare_model(self.net_g)
        children = {name for name, _ in net_g.named_children()}
        unknown = sorted(set(parts) - children)
        if unknown:
            raise InputError(f'train:train_only_g: {type(net_g).__name__} has no part {unknown[0]!r} '
                             f'(its parts: {", ".join(sorted(children))})')
        for name, parameter in net_g.named_parameters():
            parameter.requires_grad_(name.split('.')[0] in parts)

    def check_unused_parameters_allowed(self, option):
        """``option`` leaves parts of G without gradients in some steps, which DistributedDataParallel refuses
        unless told (find_unused_parameters)."""
        if self.opt.get('dist') and not self.opt.get('find_unused_parameters', False):
            raise InputError(f'{option}: leaves parts of the generator without gradients in some steps; a '
                             'distributed run needs find_unused_parameters: true')

    def check_generator_takes_exposure(self, option):
        """``option`` gives the generator an exposure: it needs an exposure condition."""
        if getattr(self.get_bare_model(self.net_g), 'exposure_condition', None) is None:
            raise InputError(f'{option}: network_g {type(self.get_bare_model(self.net_g)).__name__} takes no '
                             'exposure (MSIAGenerator: exposure_condition: true)')

    def check_generator_reads_frames(self):
        """datasets:train:lq_frame needs a generator whose ``global_features`` (x) are not empty."""
        net_g = self.get_bare_model(self.net_g)
        global_features = getattr(net_g, 'global_features', None)
        with torch.no_grad():
            reads_frames = global_features is not None and global_features(
                torch.zeros(1, self.opt['network_g'].get('num_in_ch', 3), 32, 32, device=self.device))
        if not reads_frames:
            raise InputError(f'datasets:train:lq_frame: network_g {type(net_g).__name__} has no global features to '
                             'read the whole frame with (MSIAGenerator: global_branch or global_context)')

    def check_discriminator_channels(self, condition_d):
        """network_d's num_in_ch (if given) is what D is fed: cat[lq, output] if condition_d, else the output."""
        network_g = self.opt['network_g']
        seen = network_g.get('num_out_ch', 3) + (network_g.get('num_in_ch', 3) if condition_d else 0)
        num_in_ch = self.opt['network_d'].get('num_in_ch')
        if num_in_ch is not None and num_in_ch != seen:
            fed = 'the input and the enhanced image' if condition_d else 'the enhanced image alone'
            raise InputError(f'network_d:num_in_ch {num_in_ch} does not fit train:condition_d {condition_d}: D is fed '
                             f'{fed}, {seen} channels')

    def get_optimizer(self, optim_type, params, lr=None, **kwargs):
        """Any torch.optim optimizer by class name (BasicSR 1.4.2 knows only Adam); without lr, its default."""
        optim_class = getattr(torch.optim, optim_type, None)
        if not (isinstance(optim_class, type) and issubclass(optim_class, torch.optim.Optimizer)):
            raise InputError(f"train: optimizer type '{optim_type}' is not a torch.optim optimizer")
        try:
            return optim_class(params, **kwargs) if lr is None else optim_class(params, lr=lr, **kwargs)
        except (TypeError, ValueError) as error:
            raise InputError(f'train: optimizer {optim_type}: {error}') from None

    def load_network(self, net, load_path, strict=True, param_key='params'):
        """BasicSR's, with weights that cannot be read or do not fit ``net`` ended by a one-line InputError."""
        try:
            super().load_network(net, load_path, strict, param_key)
        except FileNotFoundError:
            raise InputError(f'{load_path}: weights file does not exist') from None
        except LOAD_ERRORS as error:
            if isinstance(error, KeyError) and error.args == (param_key,):  # BasicSR's checkpoint[param_key]
                raise InputError(f"{load_path}: has no '{param_key}' weights (param_key)") from None
            lines = str(error).splitlines()
            if isinstance(error, RuntimeError) and lines[0].startswith('Error(s) in loading state_dict'):
                # missing, unexpected or differently shaped weights, one a line after the first
                raise InputError(f'{load_path}: does not fit {type(self.get_bare_model(net)).__name__} '
                                 f'({lines[1].strip()})') from None
            raise unreadable_weights(load_path, error) from None

    def model_ema(self, decay=0.999):
        """BasicSR's EMA of G's parameters, plus G's buffers copied as they are.

        BasicSR averages ``named_parameters`` only, so a generator with BatchNorm (the U-Net baseline) would
        keep its initial running statistics in net_g_ema and validate, and save ``params_ema``, broken.
        """
        super().model_ema(decay)
        for ema_buffer, buffer in zip(self.net_g_ema.buffers(), self.get_bare_model(self.net_g).buffers()):
            ema_buffer.copy_(buffer)

    def feed_data(self, data):
        """BasicSR's, plus the whole low-light frames of training crops ('lq_frame', datasets:train:lq_frame) and
        the whole references' exposures ('gt_exposure', (N,))."""
        self.lq_frame = data['lq_frame'].to(self.device) if 'lq_frame' in data else None
        self.gt_exposure = data['gt_exposure'].to(self.device, torch.float32) if 'gt_exposure' in data else None
        super().feed_data(data)

    def enhance_lq(self):
        """G's output for the current lq, ``train:generator_chunk`` crops at a time; with lq_frame, from the global
        features of the whole frames (as when it enhances a whole photo or a tile of it); in a share
        ``exposure_given_probability`` of the steps, at the references' exposures."""
        exposure = None
        if self.exposure_given_probability and float(torch.rand(())) < self.exposure_given_probability:
            if self.gt_exposure is None:
                raise InputError("train:exposure_given_probability: the training batches carry no 'gt_exposure' "
                                 '(PairedLowLightDataset gives it)')
            exposure = self.gt_exposure
        return in_chunks(self.enhance_crops, self.generator_chunk, self.lq, self.lq_frame, exposure)

    def enhance_crops(self, lq, lq_frame=None, exposure=None):
        """G on crops lq (N, C, H, W); given their whole frames lq_frame (N, C, H', W'), with the frames' global
        features; given exposure (N,), at those exposures (linear means)."""
        given = {} if exposure is None else {'exposure': exposure}
        if lq_frame is None:
            return self.net_g(lq, **given)
        return self.net_g(lq, global_features=self.get_bare_model(self.net_g).global_features(lq_frame, **given))

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """The validation of the parent classes, each image at its reference's exposure if the dataset says
        ``exposure_given: reference``."""
        given = dataloader.dataset.opt.get('exposure_given')
        if given not in (None, 'reference'):
            raise InputError(f"datasets: {dataloader.dataset.opt.get('name')}: exposure_given '{given}' is not "
                             'reference (or unset)')
        if given:
            self.check_generator_takes_exposure(f"datasets: {dataloader.dataset.opt.get('name')}: exposure_given")
        self.validation_exposure_given = bool(given)
        try:
            super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            self.validation_exposure_given = False

    def test(self):
        """BasicSR's test, or, in a validation at the references' exposures, the same at each reference's linear
        mean."""
        if not getattr(self, 'validation_exposure_given', False):
            return super().test()
        net_g = self.net_g_ema if hasattr(self, 'net_g_ema') else self.net_g
        net_g.eval()
        with torch.no_grad():
            self.output = net_g(self.lq, exposure=(self.gt.clamp(0, 1)**GAMMA).mean((1, 2, 3)))
        self.net_g.train()

    def discriminate(self, image):
        """D's float32 logits for ``image`` (N, 3, H, W), conditioned on the current low-light input if so set."""
        with self.autocast():
            return self.net_d(torch.cat([self.lq, image], 1) if self.condition_d else image).float()

    def content_losses(self):
        """OrderedDict name -> weighted content loss of the current output against the reference (float32)."""
        criteria = (('l_g_pix', self.cri_pix), ('l_g_mac', self.cri_mac), ('l_g_ssim', self.cri_ssim))
        output = self.output.float()
        return OrderedDict((name, criterion(output, self.gt)) for name, criterion in criteria if criterion)

    def optimize_parameters(self, current_iter):
        """One training step; then, if a stop signal came, a checkpoint and TrainingStopped (StopOnSignalMixin)."""
        self.train_step(current_iter)
        self.stop_if_signalled(current_iter)

    def train_step(self, current_iter):
        """G's update, then D's; a NaN or infinite loss stops or skips the step (losses_are_finite)."""
        if self.reads_frames and self.lq_frame is None:
            raise InputError("datasets:train:lq_frame: the training batches carry no 'lq_frame' (PairedLowLightDataset "
                             f"gives it; datasets:train:type is {self.opt['datasets']['train'].get('type')})")
        # generator: content losses + fool D (D frozen)
        for p in self.net_d.parameters():
            p.requires_grad = False
        self.optimizer_g.zero_grad()
        with self.autocast():
            self.output = self.enhance_lq()
        loss_dict = OrderedDict()
        if current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters:
            loss_dict.update(self.content_losses())
            if self.trains_d:
                loss_dict['l_g_gan'] = self.cri_gan(self.discriminate(self.output), True, is_disc=False)
            if not self.losses_are_finite(loss_dict, current_iter):
                self.log_dict = OrderedDict()  # the whole step is skipped: D would learn from a failed G step
                return
            l_g_total = sum(loss_dict.values())
            loss_dict['l_g_total'] = l_g_total
            self.backward_and_step(l_g_total, self.optimizer_g, 'g')
        if self.trains_d:
            self.optimize_discriminator(loss_dict, current_iter)
        self.log_dict = self.reduce_loss_dict(loss_dict)
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)

    def optimize_discriminator(self, loss_dict, current_iter):
        """One D step, real -> 1 and the current output -> 0; adds D's losses and mean logits to loss_dict."""
        for p in self.net_d.parameters():
            p.requires_grad = True
        self.optimizer_d.zero_grad()
        real_d_pred = self.discriminate(self.gt)
        fake_d_pred = self.discriminate(self.output.detach())
        loss_dict['l_d_real'] = self.cri_gan(real_d_pred, True, is_disc=True)
        loss_dict['l_d_fake'] = self.cri_gan(fake_d_pred, False, is_disc=True)
        loss_dict['out_d_real'] = real_d_pred.detach().mean()
        loss_dict['out_d_fake'] = fake_d_pred.detach().mean()
        if self.losses_are_finite({name: loss_dict[name] for name in ('l_d_real', 'l_d_fake')}, current_iter):
            self.backward_and_step(self.d_loss_weight * (loss_dict['l_d_real'] + loss_dict['l_d_fake']),
                                   self.optimizer_d, 'd')

    def losses_are_finite(self, losses, current_iter):
        """True if every loss (name -> scalar tensor) is finite in every process, before any is used.

        Otherwise raises TrainingError naming the iteration and the losses, or, with ``train: skip_nonfinite``,
        warns and returns False: the caller then skips the update. Every process takes the same decision, so
        distributed processes stay in step.
        """
        nonfinite = flagged_on_any_process(torch.stack([~loss.detach().isfinite().all() for loss in losses.values()]))
        names = ', '.join(name for name, flag in zip(losses, nonfinite.tolist()) if flag)
        if not names:
            return True
        problem = f'iteration {current_iter}: loss {names} is NaN or infinite'
        if not self.opt['train'].get('skip_nonfinite', False):
            raise TrainingError(f'{problem}; training stopped before using it, saved checkpoints are intact '
                                '(train: skip_nonfinite: true skips such steps instead)')
        get_root_logger().warning(f'{problem}; update skipped (train: skip_nonfinite)')
        return False
