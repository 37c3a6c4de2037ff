"""What the import hook (msiagan_basicsr_hook.pth) adds to Python's start-up.

    python scripts/benchmarks/benchmark_hook_startup.py                   # this python, 40 runs each way
    python scripts/benchmarks/benchmark_hook_startup.py --python .venv/bin/python --runs 100

Runs ``PYTHON -c pass`` --runs times with the hook and as many times with MSIAGAN_BASICSR_HOOK=0, alternating, and
prints the median and the fastest of each and the difference of the medians; then the hook module's own import
time as ``PYTHON -X importtime -c pass`` reports it (median of --runs). PYTHON must have msiagan installed (the
hook is in its site-packages). Standard library only; run it from anywhere but a folder that holds msiagan.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HOOK = 'msiagan_basicsr_hook'


def run(python, *args, hook=True):
    env = {name: value for name, value in os.environ.items() if name != 'PYTHONPATH'}
    env['MSIAGAN_BASICSR_HOOK'] = '1' if hook else '0'
    return subprocess.run([python, *args], env=env, capture_output=True, text=True, check=True)


def benchmark(python, runs):
    if runs < 1:
        sys.exit('benchmark_hook_startup.py: error: --runs must be at least 1')
    if run(python, '-c', f'import sys; print({HOOK!r} in sys.modules)').stdout.strip() != 'True':
        sys.exit(f'benchmark_hook_startup.py: error: {python} starts without the hook (is msiagan installed there, '
                 'and MSIAGAN_BASICSR_HOOK unset?)')
    seconds = {True: [], False: []}
    for _ in range(runs):
        for hook in (True, False):
            start = time.perf_counter()
            run(python, '-c', 'pass', hook=hook)
            seconds[hook].append(time.perf_counter() - start)
    for hook, label in ((True, 'with the hook'), (False, 'MSIAGAN_BASICSR_HOOK=0')):
        print(f'python -c pass, {label}: median {statistics.median(seconds[hook]) * 1e3:.1f} ms, '
              f'fastest {min(seconds[hook]) * 1e3:.1f} ms ({runs} runs)')
    difference = statistics.median(seconds[True]) - statistics.median(seconds[False])
    print(f'difference of the medians: {difference * 1e3:+.1f} ms')
    own = []
    for _ in range(runs):
        report = run(python, '-X', 'importtime', '-c', 'pass').stderr
        own += [int(cumulative) for cumulative in re.findall(rf'\|\s*(\d+) \|\s+{HOOK}$', report, re.M)]
    print(f'{HOOK} import (-X importtime, cumulative): median {statistics.median(own) / 1e3:.2f} ms')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--python', default=sys.executable, help='the interpreter to time (default: this one)')
    parser.add_argument('--runs', type=int, default=40, help='runs each way (default: 40)')
    args = parser.parse_args(argv)
    benchmark(args.python, args.runs)


if __name__ == '__main__':
    main()
