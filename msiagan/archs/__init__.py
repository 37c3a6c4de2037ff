"""Networks, registered in BasicSR's ARCH_REGISTRY on import."""
from .msia_generator_arch import MSIAGenerator
from .patchgan_discriminator_arch import PatchGANDiscriminator
from .unet_generator_arch import UNetGenerator

__all__ = ['MSIAGenerator', 'PatchGANDiscriminator', 'UNetGenerator']
