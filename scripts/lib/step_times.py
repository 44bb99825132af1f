"""Where the suite's time goes: seconds per stage and per Molecule scenario step.

    molecule test -s NAME 2>&1 | python3 step_times.py record NAME TIMES
        copies its input to its output as it comes, and appends a line
        "NAME<TAB>STEP<TAB>SECONDS" to TIMES for each step Molecule reports
        as executing, then executed (create, prepare, converge, ...).
    python3 step_times.py table TIMES
        prints the lines of TIMES as a table: a row per stage or scenario, a
        column per step, and the totals.

scripts/test records its stages (lint, sanity, units, package) in the same
file, with the step "-", and prints the table when it ends, failed or not.
"""

import re
import sys
import time

STEP = re.compile(r'\u279c (\w+): (Executing|Executed)')
ANSI = re.compile(r'\x1b\[[0-9;]*m')
STEPS = ('dependency', 'create', 'prepare', 'converge', 'idempotence', 'side_effect', 'verify', 'cleanup', 'destroy')


def record(name, times):
    started = {}
    for line in sys.stdin:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = STEP.search(ANSI.sub('', line))
        if not match:
            continue
        step, what = match.groups()
        if what == 'Executing':
            started[step] = time.monotonic()
        elif step in started:
            with open(times, 'a') as out:
                out.write('%s\t%s\t%.0f\n' % (name, step, time.monotonic() - started.pop(step)))


def table(times):
    rows, steps = {}, []
    with open(times) as source:
        for line in source:
            name, step, seconds = line.rstrip('\n').split('\t')
            rows.setdefault(name, {})
            rows[name][step] = rows[name].get(step, 0) + int(seconds)
            if step != '-' and step not in steps:
                steps.append(step)
    steps.sort(key=lambda s: STEPS.index(s) if s in STEPS else len(STEPS))
    columns = ['total'] + steps
    width = max([len(n) for n in rows] + [len('stage / scenario')])
    print('%-*s %s' % (width, 'stage / scenario', ' '.join('%11s' % c for c in columns)))
    totals = dict((c, 0) for c in columns)
    for name, cells in rows.items():
        cells = dict(cells, total=sum(cells.values()))
        for column in columns:
            totals[column] += cells.get(column, 0)
        print('%-*s %s' % (width, name, ' '.join('%11s' % (cells[c] if c in cells else '') for c in columns)))
    print('%-*s %s' % (width, 'all', ' '.join('%11s' % totals[c] for c in columns)))


def main():
    if sys.argv[1:2] == ['record']:
        record(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ['table']:
        table(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
