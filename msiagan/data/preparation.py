"""What the dataset preparation scripts share: output folders that are never overwritten by surprise."""
import os
import shutil
from os import path as osp

from msiagan.errors import InputError


def is_free(path):
    """Nothing is at ``path``, or an empty folder."""
    return not osp.lexists(path) or (osp.isdir(path) and not osp.islink(path) and not os.listdir(path))


def check_output(path, force):
    """An InputError unless ``path`` is free or ``force`` allows replacing what is there."""
    if not force and not is_free(path):
        raise InputError(f'{path} already exists: pass --force to replace it')


def clear_output(path, force):
    """Make way for a new output at ``path``: free already, or (with ``force``) what is there removed; its
    parent folder made."""
    check_output(path, force)
    if not is_free(path):
        if osp.isdir(path) and not osp.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)


def check_apart(source, output):
    """The output folder is neither the source folder nor inside it, nor the other way round."""
    source, output = osp.realpath(source), osp.realpath(output)
    if output == source or output.startswith(source + os.sep) or source.startswith(output + os.sep):
        raise InputError(f'output {output} and source {source} overlap: write the prepared copy elsewhere')


def place_file(source, target, link):
    """Put ``source`` at ``target``: an absolute symbolic link if ``link``, else a copy."""
    if link:
        os.symlink(osp.abspath(source), target)
    else:
        shutil.copyfile(source, target)
