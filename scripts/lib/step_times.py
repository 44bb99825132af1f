"""Where the suite's time goes: seconds per stage and per Molecule scenario step.

    python3 step_times.py table TIMES
        prints the lines "NAME<TAB>STEP<TAB>SECONDS" of TIMES as a table: a
        row per stage or scenario, a column per step, and the totals.

scripts/test records its stages (lint, sanity, units, package) in TIMES with
the step "-", and scenario_runner.py each scenario's steps; scripts/test
prints the table when it ends, failed or not. With scenarios in lanes at
once, the Molecule rows add up to more than the stage's wall time, which
scripts/test prints as "molecule (wall)".
"""

import sys

STEPS = ('dependency', 'destroy', 'syntax', 'create', 'prepare', 'check', 'converge', 'idempotence',
         'side_effect', 'verify', 'cleanup')
STAGE = '-'


def table(times):
    """Scenario rows by step, their sums, then the stages' wall seconds and theirs."""
    scenarios, stages, steps = {}, {}, []
    with open(times) as source:
        for line in source:
            name, step, seconds = line.rstrip('\n').split('\t')
            if step == STAGE:
                stages[name] = stages.get(name, 0) + int(seconds)
                continue
            scenarios.setdefault(name, {})
            scenarios[name][step] = scenarios[name].get(step, 0) + int(seconds)
            if step not in steps:
                steps.append(step)
    steps.sort(key=lambda s: STEPS.index(s) if s in STEPS else len(STEPS))
    columns = ['total'] + steps
    width = max([len(n) for n in list(scenarios) + list(stages)] + [len('scenarios (sum)')])

    def row(name, cells):
        print('%-*s %s' % (width, name, ' '.join('%11s' % cells.get(c, '') for c in columns)))

    if scenarios:
        row('scenario', dict((c, c) for c in columns))
        totals = dict((c, 0) for c in columns)
        for name, cells in scenarios.items():
            cells = dict(cells, total=sum(cells.values()))
            for column in cells:
                totals[column] += cells[column]
            row(name, cells)
        row('scenarios (sum)', totals)
        print()
    if stages:
        print('%-*s %11s' % (width, 'stage', 'wall'))
        for name, wall in stages.items():
            print('%-*s %11s' % (width, name, wall))
        print('%-*s %11s' % (width, 'all (wall)', sum(stages.values())))


def main():
    if sys.argv[1:2] == ['table']:
        table(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
