"""MSIA-GAN for BasicSR: ``import msiagan`` registers the archs, losses, models and datasets below."""
from . import basicsr_patches  # noqa: F401  (first: its import-time alias must come before basicsr's import)
from .archs import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .version import __version__  # noqa: F401
