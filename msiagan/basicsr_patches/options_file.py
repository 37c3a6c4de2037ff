"""Reading options files without running code: ``read_options_file`` for every msiagan entry point and script.

Options files travel (beside weights, in papers' repositories and model zoos). BasicSR 1.4.2 reads them with
``ordered_yaml()``, whose loader (``yaml.Loader``) builds any Python object a file names, so that
``x: !!python/object/apply:os.system [...]`` runs a command; and it turns a ``--force_yml`` value that starts
with ``[`` into a list with ``eval``. Here a file is read with ``OrderedSafeLoader``, which builds the same
OrderedDicts as BasicSR's loader from every file without Python tags and refuses those, and a ``--force_yml``
list with ``ast.literal_eval``. msiagan.basicsr_patches.install makes BasicSR's ``parse_options`` use both
(``safe_ordered_yaml`` and ``force_yml_value``).
"""
import ast
from collections import OrderedDict

import yaml
from basicsr.utils import options as basicsr_options

from msiagan.utils.errors import InputError

BASICSR_ORDERED_YAML = basicsr_options.ordered_yaml
BASICSR_YML_VALUE = basicsr_options._postprocess_yml_value
STANDARD_TAG_PREFIX = 'tag:yaml.org,2002:'  # written !! in a file
PYTHON_TAG_PREFIX = STANDARD_TAG_PREFIX + 'python/'  # the tags with which yaml.Loader builds Python objects


class PythonTagError(yaml.constructor.ConstructorError):
    """A node tagged ``!!python/...``; ``problem`` is the tag as written with ``!!``."""


def ordered_mapping(loader, node):
    """A YAML mapping as an OrderedDict of its pairs in file order, as BasicSR's ``ordered_yaml()`` builds it."""
    return OrderedDict(loader.construct_pairs(node))


def refuse_python_tag(loader, tag_suffix, node):
    """The constructor of every ``!!python/...`` tag: raises PythonTagError at ``node``."""
    raise PythonTagError(problem=node.tag.replace(STANDARD_TAG_PREFIX, '!!', 1), problem_mark=node.start_mark)


class OrderedSafeLoader(getattr(yaml, 'CSafeLoader', yaml.SafeLoader)):
    """PyYAML's safe loader (on libyaml where PyYAML has it, as BasicSR's) with BasicSR's OrderedDict mappings.

    Builds the standard YAML types only; a ``!!python/...`` tag raises PythonTagError, another unknown tag
    a ConstructorError, before anything is built from it. A value its tag cannot take (``!!float x``,
    ``2021-02-30``, a list as a key) raises a ConstructorError at the node, not a bare ValueError.
    """

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError) as error:
            raise yaml.constructor.ConstructorError(problem=str(error), problem_mark=node.start_mark) from None


OrderedSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, ordered_mapping)
OrderedSafeLoader.add_multi_constructor(PYTHON_TAG_PREFIX, refuse_python_tag)


def line_and_column(text, index):
    """1-based (line, column) of the character ``text[index]``."""
    line_start = text.rfind('\n', 0, index) + 1
    return text.count('\n', 0, index) + 1, index - line_start + 1


def parse_options_text(text, source):
    """The options mapping (OrderedDicts, in file order) in the YAML ``text`` of the file ``source``.

    Raises InputError, one line naming ``source``: a Python tag (its line and the tag), YAML that does not
    parse or has an unknown tag (line and column), or a document that is not a mapping of options.
    """
    try:
        options = yaml.load(text, Loader=OrderedSafeLoader)
    except PythonTagError as error:
        raise InputError(f'{source}, line {error.problem_mark.line + 1}: tag {error.problem} refused, options '
                         'files may not hold Python objects') from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        problem = ': '.join(filter(None, (error.context, error.problem)))
        raise InputError(f'{source}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML '
                         f'({problem})') from None
    except yaml.reader.ReaderError as error:  # the first character YAML does not allow
        line, column = line_and_column(text, text.index(chr(error.character)))
        raise InputError(f'{source}, line {line}, column {column}: not valid YAML (character '
                         f'#x{error.character:02x}: {error.reason})') from None
    if not isinstance(options, dict):
        raise InputError(f'{source}: not a mapping of options')
    return options


def read_options_text(path):
    """The text of the options file ``path``; InputError naming it if it cannot be read as text."""
    try:
        with open(path) as f:
            return f.read()
    except OSError as error:
        raise InputError(f'{path}: cannot read ({error.strerror})') from None
    except UnicodeDecodeError:
        raise InputError(f'{path}: not a text (YAML) file') from None


def read_options_file(path):
    """The options in the YAML file ``path``, as BasicSR's parser reads them but without running code.

    Returns the top-level OrderedDict (sections are OrderedDicts too, in file order). Raises InputError,
    one line naming the file: unreadable, not text, not valid YAML (line and column), a Python tag (line
    and tag), or not a mapping.
    """
    return parse_options_text(read_options_text(path), path)


def force_yml_value(value):
    """A ``--force_yml`` value as BasicSR 1.4.2 reads it, a list (``[...]``) as a Python literal, not eval-ed.

    ``~``/none -> None, true/false -> bool, ``!!float x``, digits -> int or float, ``[...]`` -> list,
    else the text. Raises InputError for a list that is code rather than a literal.
    """
    if not value.startswith('['):
        return BASICSR_YML_VALUE(value)
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InputError(f"--force_yml value {value}: a list may hold only literals (numbers, 'text', True, "
                         'False, None, lists), not code') from None


def safe_ordered_yaml():
    """BasicSR's ``ordered_yaml()`` with OrderedSafeLoader as its loader: (loader, BasicSR's dumper)."""
    return OrderedSafeLoader, BASICSR_ORDERED_YAML()[1]

