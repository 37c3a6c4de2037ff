"""The import hook that ``msiagan_basicsr_hook.pth`` installs at interpreter start (docs/training.md, "BasicSR's
own commands"): when something imports ``basicsr``, the torchvision alias is applied just before BasicSR's package
runs, and ``msiagan`` is imported just after, so that ``import basicsr`` works and BasicSR's registries hold ours.

Standard library only, and cheap to import: nothing heavy happens until ``basicsr`` is imported. Whatever goes
wrong in the hook itself gives one warning and leaves the import to BasicSR. ``MSIAGAN_BASICSR_HOOK=0`` (in the
.pth line) keeps this module from being imported at all.
"""
import sys  # nothing else at start-up: importlib (which imports warnings) waits for basicsr

TRIGGER = 'basicsr'
OLD_FUNCTIONAL_TENSOR = 'torchvision.transforms.functional_tensor'


def alias_functional_tensor():
    """Re-expose ``torchvision.transforms.functional_tensor`` (renamed ``_functional_tensor`` in 0.17).

    ``basicsr/data/degradations.py`` imports ``rgb_to_grayscale`` from the old name at import time, so
    ``import basicsr`` fails on torchvision >= 0.17 without this alias. BasicSR master has the same fix.
    """
    import importlib
    try:
        importlib.import_module(OLD_FUNCTIONAL_TENSOR)
    except ImportError:
        sys.modules[OLD_FUNCTIONAL_TENSOR] = importlib.import_module('torchvision.transforms._functional_tensor')


def warn(message):
    """One RuntimeWarning, from the hook (never an exception)."""
    import warnings
    warnings.warn(f'msiagan: {message}; BasicSR runs without msiagan (MSIAGAN_BASICSR_HOOK=0 turns the hook off)',
                  RuntimeWarning, stacklevel=2)


class BasicSRLoader:
    """BasicSR's own loader of the ``basicsr`` package, with the alias before it and ``import msiagan`` after."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            alias_functional_tensor()
        except Exception:  # noqa: BLE001  (no torchvision: BasicSR's own import says what is missing)
            pass
        module.__loader__ = module.__spec__.loader = self.loader  # BasicSR's, as without the hook
        self.loader.exec_module(module)
        if 'msiagan' in sys.modules:  # msiagan is importing basicsr (or was imported): nothing to add
            return
        try:
            import msiagan  # noqa: F401
        except Exception as error:  # noqa: BLE001  (a stale or broken install must not break basicsr)
            warn(f'import msiagan failed ({type(error).__name__}: {error})')

    def __getattr__(self, name):  # get_code, get_source, is_package, ...: BasicSR's loader's
        return getattr(self.loader, name)


class BasicSRFinder:
    """A meta-path finder that answers only for ``basicsr``, once: the spec that the finders after it give, with
    BasicSRLoader around its loader. It takes itself off ``sys.meta_path`` when it answers."""

    searching = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TRIGGER or self.searching:
            return None
        self.searching = True  # the search below asks this finder too
        try:
            from importlib.util import find_spec
            spec = find_spec(fullname)
        except Exception:  # noqa: BLE001  (the import then fails as it would without the hook)
            return None
        finally:
            self.searching = False
        if spec is None or not hasattr(spec.loader, 'exec_module'):
            return None
        spec.loader = BasicSRLoader(spec.loader)
        uninstall()  # safe here: the import system stops at the spec returned
        return spec


def install():
    """Put BasicSRFinder first on ``sys.meta_path`` (once), unless ``basicsr`` is already imported."""
    if TRIGGER in sys.modules or any(isinstance(finder, BasicSRFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, BasicSRFinder())


def uninstall():
    """Take BasicSRFinder off ``sys.meta_path``."""
    for finder in [finder for finder in sys.meta_path if isinstance(finder, BasicSRFinder)]:
        sys.meta_path.remove(finder)
