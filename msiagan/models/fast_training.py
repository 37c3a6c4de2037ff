"""Training-speed options of a BasicSR model: channels_last memory, mixed precision, torch.compile and G in chunks.

Options under ``train`` (all off by default; the numbers they give are in docs/speed.md):
    channels_last (bool): G, D, the EMA of G and each batch in channels-last (NHWC) memory order. Same
        results (to float rounding); convolutions run faster on CPUs and on GPUs with tensor cores.
    mixed_precision (str | None): ~ (float32), 'auto', 'bf16' or 'fp16': G's and D's forward passes in that
        precision (torch.autocast), losses in float32. 'auto': bf16 where the device computes it natively (a CPU
        with AVX512-BF16 or AMX-BF16 instructions, a CUDA GPU with bf16 arithmetic), float32 elsewhere; one log
        line says which and why. fp16 adds a gradient scaler for each of G and D (saved in the training state, so
        a resumed run goes on exactly); it needs a CUDA GPU. An explicit bf16 on a CPU without bf16 instructions
        runs emulated, several times slower than float32 (a warning says so).
    compile (bool): ``torch.compile`` G and D (first iterations slower while they compile; C++ compiler needed on
        a CPU). State dict keys stay as they are.
    generator_chunk (int | None): G runs on the batch this many crops at a time (the chunks' outputs joined
        before the losses and D, so that the step is the same: refused for a generator with batch statistics,
        such as BatchNorm). On a CPU, 1 keeps each of G's activations under glibc's 32 MiB mmap limit, so
        freed memory is reused instead of faulting in fresh pages every iteration: about 1.6x the paper
        generator's step on 8 crops of 256x256 (docs/speed.md). ~: the whole batch at once.
"""
from contextlib import nullcontext

import torch
from basicsr.utils import get_root_logger
from torch import nn

from msiagan.utils.errors import InputError

PRECISIONS = {'bf16': torch.bfloat16, 'fp16': torch.float16}
AUTO = 'auto'
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')  # keys of torch.cpu.get_capabilities()
# benchmark_train.py, the recommended options on an AVX2-only AMD EPYC, 2 threads: bf16 0.26 it/s, float32 1.72 it/s
EMULATED_BF16_SLOWDOWN = 6.6


def cpu_bf16_flags():
    """The bf16 instruction sets this CPU has, of AVX512-BF16 and AMX-BF16 (as torch's cpuinfo reads them)."""
    capabilities = torch.cpu.get_capabilities()
    return [flag for flag in BF16_CPU_FLAGS if capabilities.get(flag)]


def cpu_has_bf16_instructions():
    """True if this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    return bool(cpu_bf16_flags())


def resolve_auto_precision(device):
    """``(precision, reason)`` for ``mixed_precision: auto`` on ``device`` (a torch.device): 'bf16' where it computes
    bf16 natively, else None (float32); ``reason`` is a few words for the log."""
    if device.type == 'cuda':
        name = torch.cuda.get_device_name(device)
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return 'bf16', f'{name} computes bf16 natively'
        return None, f'{name} has no native bf16'
    cpu = torch.cpu.get_capabilities().get('cpu_name') or 'this CPU'
    flags = cpu_bf16_flags()
    if flags:
        return 'bf16', f"{cpu} has {' and '.join(flags)} instructions"
    return None, f"{cpu} has no bf16 instructions ({' or '.join(BF16_CPU_FLAGS)}), where bf16 would run emulated"


def has_batch_statistics(net):
    """True if ``net`` has a layer whose training output depends on the other images of the batch (BatchNorm)."""
    return any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in net.modules())


def in_chunks(run, chunk, *batches):
    """``run`` on the batches (tensors or None, the same length) ``chunk`` items at a time (None: all at once),
    its outputs joined along the batch."""
    if not chunk or chunk >= len(batches[0]):
        return run(*batches)
    pieces = zip(*[batch.split(chunk) if batch is not None else [None] * -(-len(batches[0]) // chunk)
                   for batch in batches], strict=True)
    return torch.cat([run(*piece) for piece in pieces])


class FastTrainingMixin:
    """For a BasicSR model (before it in the bases): reads the options above and offers ``autocast()`` and
    ``backward_and_step(loss, optimizer, net)`` to ``optimize_parameters``."""

    def __init__(self, opt):
        train_opt = opt['train'] if opt.get('is_train') else {}
        for key in ('channels_last', 'compile'):
            if not isinstance(train_opt.get(key, False), bool):
                raise InputError(f'train:{key} {train_opt[key]!r}: must be true or false')
        self.channels_last = train_opt.get('channels_last', False)
        self.compile_networks = train_opt.get('compile', False)
        precision = train_opt.get('mixed_precision')
        if precision is not None and precision != AUTO and precision not in PRECISIONS:
            raise InputError(f"train:mixed_precision {precision!r}: must be ~, auto, bf16 or fp16")
        self.precision = precision
        chunk = train_opt.get('generator_chunk')
        if chunk is not None and not (isinstance(chunk, int) and not isinstance(chunk, bool) and chunk > 0):
            raise InputError(f'train:generator_chunk {chunk!r}: must be ~ or a number of crops, at least 1')
        self.generator_chunk = chunk
        super().__init__(opt)

    def model_to_device(self, net):
        """BasicSR's (device, then DDP or DataParallel), with channels_last first and torch.compile last."""
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        net = super().model_to_device(net)
        if self.compile_networks:
            net.compile()  # in place: state_dict keys keep their names
        return net

    def init_training_settings(self):
        if self.precision == AUTO:
            self.precision, reason = resolve_auto_precision(self.device)
            get_root_logger().info(f"train:mixed_precision auto: {self.precision or 'float32'}, as {reason}")
        if self.precision == 'fp16' and self.device.type != 'cuda':
            raise InputError('train:mixed_precision fp16 needs a CUDA GPU; use auto (or ~) on the CPU')
        if self.precision == 'bf16' and self.device.type == 'cpu' and not cpu_has_bf16_instructions():
            get_root_logger().warning(
                'train:mixed_precision bf16: this CPU has no bf16 instructions, so bf16 is emulated: training runs '
                f'about {EMULATED_BF16_SLOWDOWN}x slower than in float32 (docs/speed.md); use auto, which picks '
                'float32 here')
        super().init_training_settings()
        if self.generator_chunk and has_batch_statistics(self.net_g):
            raise InputError(f'train:generator_chunk: network_g {type(self.get_bare_model(self.net_g)).__name__} '
                             'has batch statistics (BatchNorm), so chunks of the batch would change its step: '
                             'set generator_chunk: ~')
        if self.channels_last and getattr(self, 'net_g_ema', None) is not None:
            self.net_g_ema.to(memory_format=torch.channels_last)
        scaling = self.precision == 'fp16'
        self.grad_scalers = {'g': torch.amp.GradScaler('cuda', enabled=scaling),
                             'd': torch.amp.GradScaler('cuda', enabled=scaling)}

    def feed_data(self, data):
        super().feed_data(data)
        if self.channels_last:
            for name in ('lq', 'gt', 'lq_frame'):  # those fed
                if getattr(self, name, None) is not None:
                    setattr(self, name, getattr(self, name).contiguous(memory_format=torch.channels_last))

    def autocast(self):
        """The block runs in ``train:mixed_precision`` (a no-op without it)."""
        if self.precision is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=PRECISIONS[self.precision])

    def backward_and_step(self, loss, optimizer, net):
        """loss.backward() and optimizer.step(), through the gradient scaler of ``net`` ('g' or 'd') with fp16."""
        scaler = self.grad_scalers[net]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def training_state_extras(self):
        extras = super().training_state_extras()
        if self.precision == 'fp16':
            extras['grad_scalers'] = {net: scaler.state_dict() for net, scaler in self.grad_scalers.items()}
        return extras

    def resume_training(self, resume_state):
        super().resume_training(resume_state)
        for net, state in resume_state.get('grad_scalers', {}).items():
            self.grad_scalers[net].load_state_dict(state)
