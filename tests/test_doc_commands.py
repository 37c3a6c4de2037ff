"""Every command in README.md and docs/*.md still runs, as far as can be told without data, network or time.

Collected: the lines of ```bash blocks (continuations joined, comments dropped, split at && ; | &) and the
inline `...` code spans that start (after any ``VAR=value``, e.g. ``CUDA_VISIBLE_DEVICES=``) with ``python ``,
``msiagan-``, ``torchrun``, ``bash `` or ``make ``; also the recipe lines of the Makefile that ``make demo`` and ``make test`` run. For each command (one test per doc, line
and command):

- every repository path it names (options/, scripts/, msiagan/, docs/, tests/) exists; placeholders (``<name>``,
  ``$A``, ``*``, ``...``) and output folders (experiments/, datasets/, results/, weights/) are not looked for;
- the script or entry point it runs exists, and every ``-flag`` the command gives it is in that script's ``-h``
  (run once per script; msiagan-train/-test/-enhance are msiagan/train.py, test.py, enhance.py); the flags of
  torchrun too; ``bash FILE`` passes ``bash -n``; ``make TARGET`` is a Makefile target;
- ``-opt FILE`` loads with msiagan's options loader, and each ``--force_yml key:key=value`` names a key that is in
  the file (a key not there would be added, unused, by BasicSR) and applies.
"""
import json
import os
import re
import shlex
import subprocess
import sys
from glob import glob
from os import path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = ['README.md', *sorted(osp.relpath(doc, REPO) for doc in glob(osp.join(REPO, 'docs', '*.md')))]
REPO_DIRS = ('options/', 'scripts/', 'msiagan/', 'docs/', 'tests/')  # paths that must exist (outputs go elsewhere)
PLACEHOLDERS = ('<', '>', '$', '*', '...', '/path/to')
COMMAND_STARTS = ('python ', 'python3 ', 'msiagan-', 'torchrun', 'bash ', 'make ')
FENCE = re.compile(r'^\s*(```+|~~~+)\s*([\w+-]*)')
SHELL_FENCES = ('bash', 'sh', 'shell', 'console')
SEPARATORS = ('&&', '||', ';', '|', '&')
LAUNCHERS = ('torchrun', 'srun')  # run a python script after options of their own
TORCHRUN = '<torchrun>'  # the script key of torchrun's own help


def entry_points():
    """{'msiagan-train': 'msiagan/train.py', ...} from setup.py's console_scripts."""
    with open(osp.join(REPO, 'setup.py')) as f:
        text = f.read()
    return {name: module.replace('.', '/') + '.py'
            for name, module in re.findall(r"""['"](msiagan-[\w-]+)\s*=\s*([\w.]+):\w+['"]""", text)}


ENTRY_POINTS = entry_points()


def strip_comment(line):
    """``line`` without its shell comment: a ``#`` at the start or after a blank, outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char == '#' and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def split_commands(text):
    """The simple commands of a shell line, each a list of words (quotes removed)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=';&|')
    lexer.whitespace_split = True
    lexer.commenters = ''
    commands, words = [], []
    for token in lexer:
        if token in SEPARATORS:
            commands.append(words)
            words = []
        else:
            words.append(token)
    commands.append(words)
    return [words for words in commands if words]


def is_command(words):
    """Whether ``words`` (a shell command) is one of those checked: python, an entry point, torchrun, srun, bash,
    make, after any VAR=value. ``msiagan-train: error: ...`` (a message) is not."""
    words = without_env(words)
    if not words:
        return False
    first = words[0]
    return (first in ('python', 'python3', 'bash', 'make', *LAUNCHERS)
            or re.fullmatch(r'msiagan-[\w-]+', first) is not None)


def without_env(words):
    """``words`` without leading VAR=value assignments."""
    i = 0
    while i < len(words) and re.fullmatch(r'[A-Za-z_]\w*=\S*', words[i]):
        i += 1
    return words[i:]


def shell_block_commands(lines, first_line):
    """(line number, command text) of the commands in the lines of a shell block that starts at ``first_line``."""
    found, logical, start = [], '', None
    for number, line in enumerate(lines, first_line):
        line = strip_comment(line).rstrip()
        if start is None:
            start = number
        if line.endswith('\\'):
            logical += line[:-1] + ' '
            continue
        logical += line
        for words in split_commands(logical):
            if is_command(words):
                found.append((start, shlex.join(words)))
        logical, start = '', None
    return found


def doc_commands(text):
    """(line number, command text) of the commands in a markdown text: shell blocks, then inline code spans."""
    lines = text.split('\n')
    found, outside, block, fence = [], [], None, None
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence, language, block = match.group(1), match.group(2).lower(), []
            block_start = number + 1
            outside.append('')
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[len(fence):].strip():
            if language in SHELL_FENCES:
                found += shell_block_commands(block, block_start)
            fence = None
            outside.append('')
        elif fence is not None:
            block.append(line)
            outside.append('')
        else:
            outside.append(line)
    prose = '\n'.join(outside)
    for span in re.finditer(r'(?<!`)`([^`]+)`(?!`)', prose):
        code = re.sub(r'^(?:[A-Za-z_]\w*=\S*\s+)+', '', span.group(1).strip())  # after VAR=value ...
        if '\n\n' in span.group(1) or not code.startswith(COMMAND_STARTS):
            continue
        number = prose.count('\n', 0, span.start()) + 1
        for words in split_commands(' '.join(span.group(1).split())):
            if is_command(words):
                found.append((number, shlex.join(words)))
    return sorted(found)


def makefile_commands():
    """(line number, command) of the Makefile's recipe lines that run a python script with $(PY) or $(PYTHON)."""
    found = []
    with open(osp.join(REPO, 'Makefile')) as f:
        for number, line in enumerate(f, 1):
            match = re.match(r'\t\$\((?:PY|PYTHON)\) (?!-m )(.*)', line.rstrip('\n'))
            if match:
                found.append((number, f'python {match.group(1)}'))
    return found


def makefile_targets():
    with open(osp.join(REPO, 'Makefile')) as f:
        return {target for line in f for rule in [re.match(r'([^\s:=#][^:=#]*):(?!=)', line)] if rule
                for target in rule.group(1).split()}


def collect():
    cases = []
    for doc in DOCS:
        with open(osp.join(REPO, doc), encoding='utf-8') as f:
            cases += [(doc, number, command) for number, command in doc_commands(f.read())]
    return cases + [('Makefile', number, command) for number, command in makefile_commands()]


CASES = collect()


def is_placeholder(word):
    return any(mark in word for mark in PLACEHOLDERS)


def repository_paths(words):
    """The words (or the values of --flag=value words) that name a path under one of REPO_DIRS."""
    for word in words:
        for value in (word, word.partition('=')[2]):
            if value.startswith(REPO_DIRS) and not is_placeholder(value):
                yield value.rstrip('.,;:)')


def parse(command):
    """(script, its argument words, launcher's own words) of a command: script is a repository path (or None
    for a module run with -m that is not msiagan's, or an elided one), 'make' or 'bash FILE' forms give
    ('make', [target...], []) and ('bash', [file, ...], [])."""
    words = without_env(shlex.split(command))
    first, rest = words[0], words[1:]
    if first == 'make':
        return 'make', rest, []
    if first == 'bash':
        return 'bash', rest, []
    if first in ENTRY_POINTS:
        return ENTRY_POINTS[first], rest, []
    if first.startswith('msiagan-'):
        return first, rest, []  # unknown entry point: reported by check_script
    launcher = []
    if first in LAUNCHERS:
        at = next((i for i, word in enumerate(rest) if word in ('python', 'python3') or word.endswith('.py')
                   or word == '...'), len(rest))
        launcher, rest = [first, *rest[:at]], rest[at:]
        if not rest or rest[0] == '...':
            return None, rest[1:], launcher
        if rest[0] in ('python', 'python3'):
            rest = rest[1:]
        return (rest[0], rest[1:], launcher) if rest else (None, [], launcher)
    # python [-u ...] script.py args | python -m module args | python -c code
    while rest and rest[0].startswith('-') and rest[0] not in ('-m', '-c'):
        rest = rest[1:]
    if rest[:1] == ['-c']:
        return None, [], launcher
    if rest[:1] == ['-m'] and len(rest) > 1:
        module = rest[1].replace('.', '/') + '.py'
        return (module if module.startswith('msiagan/') else None), rest[2:], launcher
    return (rest[0], rest[1:], launcher) if rest else (None, [], launcher)


def flags_of(words):
    """The option words of ``words`` ('--out=x' gives '--out'); not negative numbers, not placeholders."""
    return [word.partition('=')[0] for word in words
            if word.startswith('-') and word != '-' and not re.fullmatch(r'-[\d.]+', word) and word != '--'
            and not is_placeholder(word)]


def python_scripts():
    """Every script that CASES run with python (each to be asked for -h once)."""
    scripts = set()
    for _, _, command in CASES:
        script, _, launcher = parse(command)
        if script not in (None, 'make', 'bash') and script.endswith('.py') and osp.isfile(osp.join(REPO, script)):
            scripts.add(script)
        if launcher[:1] == ['torchrun']:
            scripts.add(TORCHRUN)
    return sorted(scripts)


HELP_RUNNER = r'''
# For each script: a child forked from this process, which has imported only third-party modules (torch and the
# like: the slow part, once), runs "python SCRIPT -h" as a fresh interpreter would (its own sys.argv, sys.path[0], no
# msiagan or basicsr imported yet), its stdout and stderr in a file.
import importlib, json, os, runpy, sys, tempfile, traceback
for module in ('numpy', 'cv2', 'yaml', 'torch', 'torch._dynamo', 'torchvision', 'torchvision.models', 'scipy.stats',
               'sympy', 'skimage', 'lmdb', 'tqdm'):  # what msiagan and BasicSR import, slow to import
    try:
        importlib.import_module(module)
    except Exception:
        pass
results = {}
for script in sys.argv[1:]:
    with tempfile.TemporaryFile() as out:
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            code = 0
            try:
                if script == '<torchrun>':
                    sys.argv = ['torchrun', '-h']
                    runpy.run_module('torch.distributed.run', run_name='__main__', alter_sys=True)
                else:
                    sys.argv = [script, '-h']
                    sys.path[0] = os.path.dirname(os.path.abspath(script))
                    runpy.run_path(script, run_name='__main__')
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                if not isinstance(stop.code, (int, type(None))):
                    print(stop.code, file=sys.stderr)
            except BaseException:
                code = 1
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        results[script] = [os.waitstatus_to_exitcode(status), out.read().decode(errors='replace')]
print('\n@@HELP@@' + json.dumps(results))
'''
HELP = {}  # script -> (exit status, output) of ``python script -h``


def help_of(script):
    """(exit status, output) of ``python script -h``, run from the repository; all the scripts of CASES are asked
    at the first call, each in a process forked from one that has imported torch (a few seconds in all)."""
    if script not in HELP:
        scripts = sorted(set(python_scripts()) - set(HELP) | {script})
        env = dict(os.environ, PYTHONUNBUFFERED='1', MSIAGAN_ROOT=REPO)
        result = subprocess.run([sys.executable, '-c', HELP_RUNNER, *scripts], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        if '@@HELP@@' not in result.stdout:
            raise AssertionError(f'the -h runner failed: {result.stderr[-2000:]}')
        HELP.update((name, tuple(value)) for name, value in
                    json.loads(result.stdout.rsplit('@@HELP@@', 1)[1]).items())
    return HELP[script]


def last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else '(no output)'


def check_paths(command):
    """Problems: repository paths that the command names and that do not exist."""
    words = shlex.split(command)
    return [f'{path}: no such file or folder' for path in repository_paths(words)
            if not osp.exists(osp.join(REPO, path))]


def check_flags(script, words, launcher):
    """Problems: a script that does not exist or whose -h fails, or flags that its -h does not show."""
    problems = []
    if launcher[:1] == ['torchrun']:
        status, text = help_of(TORCHRUN)
        problems += [f'torchrun does not take {flag}' for flag in flags_of(launcher[1:])
                     if not shows_flag(text, flag)]
    if script is None:
        return problems
    if script == 'make':
        targets = makefile_targets()
        return problems + [f'make: the Makefile has no target {target!r}' for target in words
                           if not target.startswith('-') and '=' not in target and target not in targets]
    if script == 'bash':
        if not words or is_placeholder(words[0]):
            return problems
        file = osp.join(REPO, words[0])
        if not osp.isfile(file):
            return problems + [f'bash {words[0]}: no such file']
        check = subprocess.run(['bash', '-n', file], capture_output=True, text=True, timeout=60)
        return problems + ([f'bash -n {words[0]}: {last_line(check.stderr)}'] if check.returncode else [])
    if script.startswith('msiagan-'):
        return problems + [f'{script}: not an entry point of setup.py (it has {", ".join(sorted(ENTRY_POINTS))})']
    if is_placeholder(script):
        return problems
    if not osp.isfile(osp.join(REPO, script)):
        return problems + [f'{script}: no such script']
    if not script.endswith('.py'):
        return problems
    status, text = help_of(script)
    if status != 0:
        return problems + [f'{script} -h exits with {status}: {last_line(text)}']
    return problems + [f'{script} does not take {flag} (not in its -h)' for flag in flags_of(words)
                       if not shows_flag(text, flag)]


def shows_flag(help_text, flag):
    return re.search(rf'(?<![\w-]){re.escape(flag)}(?![\w-])', help_text) is not None


def option_values(words, option):
    """The words after ``option`` up to the next option word."""
    if option not in words:
        return []
    values = words[words.index(option) + 1:]
    return values[:next((i for i, word in enumerate(values) if word.startswith('-')), len(values))]


def options_loader():
    """msiagan's ``load_options(argv)``: (options, file) of ``-opt FILE --force_yml ...`` as BasicSR sees them."""
    import importlib
    for module in ('msiagan.utils.options_check', 'msiagan.basicsr_patches.options_check'):
        try:
            return importlib.import_module(module).load_options
        except (ImportError, AttributeError):
            continue
    raise AssertionError('msiagan has no load_options in msiagan.utils.options_check (moved?)')


SOURCE_STRINGS = set()  # the identifier-like string literals of msiagan's and BasicSR's code


def known_key(keys, section):
    """True if the key ``keys[-1]``, not in the options file, is one that the code reads with a default: an
    argument of the network a network_g/network_d section builds, else a string literal of msiagan's or BasicSR's
    code (so a misspelt key is caught). Otherwise what it is not, in words."""
    import inspect

    import basicsr
    from basicsr.utils.registry import ARCH_REGISTRY
    key = keys[-1]
    if keys[0] in ('network_g', 'network_d') and len(keys) == 2 and section.get('type') in ARCH_REGISTRY:
        parameters = inspect.signature(ARCH_REGISTRY.get(section['type'])).parameters
        return True if key in parameters else f"not an argument of {section['type']}"
    if not SOURCE_STRINGS:
        for package in (osp.join(REPO, 'msiagan'), osp.dirname(basicsr.__file__)):
            for file in glob(osp.join(package, '**', '*.py'), recursive=True):
                with open(file, encoding='utf-8') as f:
                    SOURCE_STRINGS.update(re.findall(r"""['"]([A-Za-z_]\w*)['"]""", f.read()))
    return True if key in SOURCE_STRINGS else "not read by msiagan's or BasicSR's code (no such string in it)"


def check_forced_keys(words):
    """Problems: an -opt file that does not load, or --force_yml entries whose keys it does not have."""
    opt_file = option_values(words, '-opt')[:1]
    if not opt_file or is_placeholder(opt_file[0]) or not opt_file[0].endswith(('.yml', '.yaml')):
        return []
    if not osp.isfile(osp.join(REPO, opt_file[0])):
        return []  # check_paths names it
    load_options = options_loader()
    from msiagan.utils.errors import InputError
    file = osp.join(REPO, opt_file[0])
    try:
        opt, _ = load_options(['-opt', file])
    except InputError as error:
        return [f'-opt {opt_file[0]}: does not load ({error})']
    problems = []
    for entry in option_values(words, '--force_yml'):
        if is_placeholder(entry):  # e.g. "${FT[@]}": entries a shell variable holds
            continue
        keys = entry.partition('=')[0].split(':')
        problem, section = None, opt
        for depth, key in enumerate(keys):
            if isinstance(section, dict) and key not in section and depth == len(keys) - 1:
                known = known_key(keys, section)
                if known is not True:
                    problem = f'--force_yml {entry}: {opt_file[0]} has no {":".join(keys)}, and {key} is {known}'
                break
            if not isinstance(section, dict) or key not in section:
                problem = f'--force_yml {entry}: {opt_file[0]} has no {":".join(keys[:depth + 1])}'
                break
            section = section[key]
        if problem:
            problems.append(problem)
        else:
            try:
                load_options(['-opt', file, '--force_yml', entry])
            except InputError as error:
                problems.append(str(error))
    return problems


def problems_of(command):
    """Everything wrong with ``command`` (a shell command of the docs), as one string per problem."""
    script, words, launcher = parse(command)
    return check_paths(command) + check_flags(script, words, launcher) + check_forced_keys(words)


def case_id(case):
    doc, number, command = case
    return f'{doc}:{number}: {command[:60]}'


@pytest.mark.parametrize('doc, line, command', CASES, ids=[case_id(case) for case in CASES])
def test_doc_command_runs(doc, line, command):
    problems = problems_of(command)
    assert not problems, f'{doc}:{line}: {command}\n' + '\n'.join(f'  - {problem}' for problem in problems)


def test_every_doc_has_its_commands_collected():
    by_doc = {doc: sum(case[0] == doc for case in CASES) for doc in DOCS}
    for doc in ('README.md', 'docs/training.md', 'docs/results.md', 'docs/comparing.md', 'docs/enhancing.md'):
        assert by_doc.get(doc, 0) > 0, (doc, by_doc)
    assert len(CASES) > 40, by_doc


SAMPLE = '''Some prose with `python scripts/metrics/compare.py --data d --model a options/demo.yml w.pth` and
`msiagan-train: error: x: cannot write` (a message), `msiagan-enhance`'s default, and `options/demo.yml`;
`CUDA_VISIBLE_DEVICES= torchrun --standalone msiagan/train.py -opt options/demo.yml` too.

```bash
python msiagan/train.py -opt options/demo.yml --force_yml train:total_iter=10 \\
    "train:mac_opt:scales=[7,15]"   # a comment with --no-such-flag
OMP_NUM_THREADS=1 python msiagan/test.py -opt options/test_lol.yml & wait
python3 -m venv .venv && . .venv/bin/activate
pip install -e .
```

```python
python msiagan/train.py --not-a-command
```
'''


def test_the_collector_finds_block_lines_and_inline_commands():
    assert doc_commands(SAMPLE) == [
        (1, 'python scripts/metrics/compare.py --data d --model a options/demo.yml w.pth'),
        (2, 'msiagan-enhance'),
        (3, 'CUDA_VISIBLE_DEVICES= torchrun --standalone msiagan/train.py -opt options/demo.yml'),
        (6, "python msiagan/train.py -opt options/demo.yml --force_yml train:total_iter=10 "
            "'train:mac_opt:scales=[7,15]'"),
        (8, 'OMP_NUM_THREADS=1 python msiagan/test.py -opt options/test_lol.yml'),
        (9, 'python3 -m venv .venv'),
    ]


@pytest.mark.parametrize('command', [
    'python msiagan/train.py -opt options/demo.yml --auto_resume --force_yml train:total_iter=10 '
    'logger:save_checkpoint_freq=5 "train:mac_opt:scales=[7,15]"',
    'msiagan-test -opt options/test_lol.yml',
    'torchrun --standalone --nproc_per_node=2 msiagan/train.py -opt options/demo.yml --launcher pytorch',
    'python scripts/metrics/compare.py --data datasets/x --import realesrgan --model a options/demo.yml '
    'experiments/a.pth --repeats 0',
    'make demo',
    'python3 -m venv .venv',
    'python msiagan/train.py -opt options/train/recommended_content_lol.yml --force_yml '
    'datasets:train:lq_frame_flip=true network_g:global_context=true',  # keys not in the file, read with defaults
])
def test_good_commands_pass(command):
    assert problems_of(command) == []


@pytest.mark.parametrize('command, problem', [
    ('python msiagan/train.py -opt options/demo.yml --no-such-flag',
     'msiagan/train.py does not take --no-such-flag (not in its -h)'),
    ('python msiagan/train.py -opt options/train/no_such.yml', 'options/train/no_such.yml: no such file or folder'),
    ('python scripts/metrics/no_such.py --data x', 'scripts/metrics/no_such.py: no such file or folder'),
    ('python msiagan/train.py -opt options/demo.yml --force_yml train:no_such_key=1',
     '--force_yml train:no_such_key=1: options/demo.yml has no train:no_such_key'),
    ('msiagan-enhance -i a -o b --tiles 4', 'msiagan/enhance.py does not take --tiles (not in its -h)'),
    ('torchrun --nproc-per-gpu=2 msiagan/train.py -opt options/demo.yml',
     'torchrun does not take --nproc-per-gpu'),
    ('python msiagan/train.py -opt options/demo.yml --force_yml datasets:train:lq_frame_flp=true',
     '--force_yml datasets:train:lq_frame_flp=true: options/demo.yml has no datasets:train:lq_frame_flp, and '
     "lq_frame_flp is not read by msiagan's or BasicSR's code"),
    ('python msiagan/train.py -opt options/demo.yml --force_yml network_g:num_feet=8',
     '--force_yml network_g:num_feet=8: options/demo.yml has no network_g:num_feet, and num_feet is not an '
     'argument of MSIAGenerator'),
    ('python msiagan/train.py -opt options/demo.yml --force_yml no_section:x=1',
     '--force_yml no_section:x=1: options/demo.yml has no no_section'),
    ('make no_such_target', "make: the Makefile has no target 'no_such_target'"),
    ('msiagan-serve -i a', 'msiagan-serve: not an entry point of setup.py'),
])
def test_bad_commands_are_named(command, problem):
    problems = problems_of(command)
    assert any(found.startswith(problem) for found in problems), problems
