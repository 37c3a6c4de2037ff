"""The one place where msiagan changes how BasicSR 1.4.2 (the PyPI release) behaves; nothing in site-packages is
edited.

At import (``import msiagan`` imports this package first, before anything imports ``basicsr``):
``torchvision.transforms.functional_tensor`` is aliased, so that BasicSR imports on torchvision >= 0.17 (the alias
is msiagan_basicsr_hook's, which applies it before ``import basicsr`` where msiagan is installed), and
``hand_over_basicsr_entry_points()`` makes BasicSR's own train.py and test.py run ours (entry_points.py).
``install()``, called by msiagan/train.py and msiagan/test.py, replaces the names listed in it, one line each with
its reason. The modules of this package define the replacements; only ``install()`` and
``hand_over_basicsr_entry_points()`` apply them. One swap is
made by our model instead, for the length of one call: ``torch.save`` inside BasicSR's ``save_network`` and
``save_training_state`` (``torch_save.torch_save_as``, used by msiagan.models.atomic_checkpoint).
"""
import importlib.util
import sys
import threading
from os import path as osp


def hook_module():
    """The module msiagan_basicsr_hook; where it is not importable (an editable install made before the hook existed,
    whose finder maps msiagan only: installing again adds the hook), the checkout's, beside this package."""
    try:
        return importlib.import_module('msiagan_basicsr_hook')
    except ModuleNotFoundError as error:
        if error.name != 'msiagan_basicsr_hook':
            raise
    checkout = osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__))))
    spec = importlib.util.spec_from_file_location('msiagan_basicsr_hook', osp.join(checkout, 'msiagan_basicsr_hook.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sys.modules.setdefault('msiagan_basicsr_hook', module)


hook_module().alias_functional_tensor()

from basicsr import data as basicsr_data  # noqa: E402  (after the alias)
from basicsr import test as basicsr_test  # noqa: E402
from basicsr import train as basicsr_train  # noqa: E402
from basicsr.models import sr_model  # noqa: E402
from basicsr.utils import options as basicsr_options  # noqa: E402

from . import entry_points, launchers, loader_workers, options_file, quiet_console, resume, run_files  # noqa: E402


def replace_attribute(module, name, value):
    """Set ``module.name`` to ``value``; an ImportError if the module has no such name (another BasicSR than
    1.4.2, on which the replacement would silently do nothing)."""
    if not hasattr(module, name):
        raise ImportError(f'{module.__name__} has no {name}: msiagan patches BasicSR 1.4.2 '
                          '(pip install basicsr==1.4.2)')
    setattr(module, name, value)


def hand_over_basicsr_entry_points():
    """Replace what BasicSR's own train.py and test.py call first; done at ``import msiagan``, which the hook makes
    before their ``__main__`` code looks the name up."""
    # python -m basicsr.train / basicsr/train.py (and test): they run as __main__, beyond install()'s replacements;
    # ours hands BasicSR's own entry point over to msiagan's, and is BasicSR's parse_options for any other caller
    replace_attribute(basicsr_options, 'parse_options', entry_points.parse_options_handing_over)


def install(train, quiet=False):
    """Replace what BasicSR's test pipeline (and with ``train``, its training pipeline) looks up; ``quiet``: the
    console of msiagan/train.py --quiet. Calling it again installs the same again."""
    # --launcher: init_dist needs CUDA (set_device, NCCL); ours uses gloo without GPUs and reads srun's variables
    replace_attribute(basicsr_options, 'init_dist', launchers.init_dist)
    # -opt: yaml.Loader builds any Python object a file names (so runs code); ours builds plain YAML, refuses tags
    replace_attribute(basicsr_options, 'ordered_yaml', options_file.safe_ordered_yaml)
    # --force_yml: a value that starts with [ is eval-ed; ours reads it with ast.literal_eval
    replace_attribute(basicsr_options, '_postprocess_yml_value', options_file.force_yml_value)
    # validation and test images: a failed write gives a traceback or a cut file; ours: whole, or an OutputError
    replace_attribute(sr_model, 'imwrite', run_files.write_run_image)
    # results/<name>: a folder that cannot be made gives a traceback; ours an OutputError naming it
    replace_attribute(basicsr_test, 'make_exp_dirs', run_files.make_exp_dirs)
    # the test log: unwritable, it prints a traceback per line and goes on; ours (its handleError) an OutputError
    replace_attribute(basicsr_test, 'get_root_logger', run_files.get_root_logger_stopping_on_write_errors)
    if not train:
        return
    # -h lists BasicSR's flags only; ours adds train.py's --quiet (train.py takes it out of argv before parsing)
    replace_attribute(basicsr_train, 'parse_options', quiet_console.parse_options_listing_quiet)
    # experiments/<name>, and an old one moved aside: a traceback when they cannot be; ours an OutputError
    replace_attribute(basicsr_train, 'make_exp_dirs', run_files.make_exp_dirs)
    replace_attribute(basicsr_train, 'mkdir_and_rename', run_files.mkdir_and_rename)
    # the options copy: every process writes it, a failure is a traceback or a cut file; ours: process 0, whole
    replace_attribute(basicsr_train, 'copy_opt_file', run_files.copy_options_file)
    # the training log: as the test log above
    replace_attribute(basicsr_train, 'get_root_logger', run_files.get_root_logger_stopping_on_write_errors)
    # tensorboard: a writer that fails crashes the run; ours is dropped with one warning, the run goes on
    replace_attribute(basicsr_train, 'init_tb_loggers', run_files.init_tb_loggers)
    # ... and its writer thread's traceback is not printed (the writer's next call raises the failure: one warning)
    replace_attribute(threading, 'excepthook', run_files.quiet_tensorboard_threads(threading.excepthook))
    exact_resume = resume.ExactResume()
    # resume state: loaded to the current CUDA device, found under ./experiments; ours to the CPU, own folder
    replace_attribute(basicsr_train, 'load_resume_state', exact_resume.load_resume_state)
    # resuming restarts the epoch from its first batch, reseeded; ours takes it up where it stopped, same RNG
    replace_attribute(basicsr_train, 'EnlargedSampler', resume.ResumableSampler)
    replace_attribute(basicsr_train, 'create_train_val_dataloader', exact_resume.create_train_val_dataloader)
    # SIGTERM or SIGUSR1 to a whole job kills BasicSR's loader workers, so training fails before it saves
    # (msiagan.models.preemption); ours ignore them: the training process ends them when it has saved
    replace_attribute(basicsr_data, 'worker_init_fn', loader_workers.worker_init_fn_ignoring_stop_signals)
    if quiet:
        # --quiet: the console shows warnings and the validation results only; the log file stays whole
        replace_attribute(basicsr_train, 'get_root_logger',
                          quiet_console.quiet_root_logger(run_files.get_root_logger_stopping_on_write_errors))
        # --quiet: one short progress line per print_freq on the console; the full message to the log file
        replace_attribute(basicsr_train, 'MessageLogger', quiet_console.QuietMessageLogger)


hand_over_basicsr_entry_points()
