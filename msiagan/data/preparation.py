"""What the dataset preparation scripts share: outputs that are never overwritten by surprise, and never left
half-written (a full disk, a missing permission)."""
import os
import shutil
from contextlib import contextmanager
from os import path as osp

from msiagan.utils.errors import InputError, OutputError
from msiagan.utils.writing import cause


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
        remove_path(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)


def remove_path(path):
    """Remove what is at ``path``: a folder with all in it, a file or a link (not what it points to)."""
    if osp.isdir(path) and not osp.islink(path):
        shutil.rmtree(path)
    elif osp.lexists(path):
        os.remove(path)


def staging_path(path):
    """The hidden name beside ``path`` that its output has until complete: <folder>/.<stem>.partial<extension>
    (hidden names are not read as data; the extension stays, as BasicSR wants '.lmdb')."""
    folder, name = osp.split(osp.abspath(path))
    stem, extension = osp.splitext(name)
    return osp.join(folder, f'.{stem}.partial{extension}')


@contextmanager
def staged_outputs(paths, write_errors=(OSError,)):
    """Yield {path: staging path} for the block to write each output (a file or a folder) under its staging
    path; when the block ends, each replaces what is at its path (check_output first). If the block fails,
    everything it wrote is removed, so nothing half-written is ever under an output's name; a write error
    (one of ``write_errors``: a full disk, no permission, ...) then becomes an OutputError naming the output
    and the cause."""
    staging = {path: staging_path(path) for path in paths}
    for staged in staging.values():
        remove_path(staged)  # left by a run that was killed
    try:
        yield staging
    except BaseException as error:
        paths = outputs_written_at(error, staging) if isinstance(error, write_errors) else []
        message = paths and (f"{' and '.join(map(str, paths))}: cannot write ({cause(error, staging[paths[0]])}); "
                             'removed what was written')
        for staged in staging.values():
            remove_path(staged)
        if message:
            raise OutputError(message) from None
        raise
    for path, staged in staging.items():
        remove_path(path)
        os.replace(staged, path)


def outputs_written_at(error, staging):
    """The outputs (keys of ``staging``) that ``error`` failed to write: the one whose staging path holds a file
    the error names; none if it names only other files (not a write of ours); all if it names no file (an
    OSError from ``write`` on a full disk, an LMDB error)."""
    filenames = [osp.abspath(os.fsdecode(name)) for name in (getattr(error, 'filename2', None),
                                                             getattr(error, 'filename', None))
                 if isinstance(name, (str, bytes, os.PathLike))]
    if not filenames:
        return list(staging)
    return [path for path, staged in staging.items()
            if any(name == staged or name.startswith(staged + os.sep) for name in filenames)][:1]


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
