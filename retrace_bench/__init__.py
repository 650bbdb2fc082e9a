"""The Retrace benchmark suite's library: a folder per workload, of the same shape, and the shared
core beside them (docs/development.md has the whole layout).

    ops/       operations: per-operation scripts        run, parse, analysis, report (+ instructions, history)
    programs/  whole programs: pyperformance, --program run, analysis, report (+ pyperformance, export_pyperf)
    production/ an app under load (production_*)          run, analysis, report (+ load, agents, sink)

    driver     the command line and the flow of a run    rounds    the rounds loop every workload shares
    arms       plain, Retrace, other versions, agents     procs     child processes, time limits, scratch
    results    the results directory, its manifest        handover  the JSON record a process hands over
    facts      every rule and constant, once               stats     intervals valid at the sample sizes run
    replay     replaying a recording; the verdict words   render    what every report shares
    instructions, profiles   counting under Callgrind, per-function costs
    summary, compare, selfcheck, budget   the analyzer's flow, archive comparison, the self-check's judge, budgets
"""
