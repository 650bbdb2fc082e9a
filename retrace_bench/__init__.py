"""The Retrace benchmark suite's library: one module per job.

    facts      every rule and constant the suite relies on, in one place
    record     the JSON record a benchmark process hands to the manager
    stats      statistics (intervals valid at the process counts the suite runs)
    procs      child processes in groups the suite owns, time limits, private scratch directories
    arms       the ways of running a process: plain, Retrace (pinned or another version)
    engine     the manager: rounds, rotation, trace checks, probes, replay, results, archive
    parse      reading results (the manager's run.json, or the spec's text format)
    analysis   comparisons, intervals and verdicts (data, not words)
    report     rendering: text, JSON, benchmark-action JSON, chart
    compare    comparing two archived runs
    selfcheck  judging a --self-check run
"""
