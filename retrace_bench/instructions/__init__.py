"""Instructions per call, a measure every workload can use: counting under Valgrind's Callgrind
(callgrind, with the C extension in native/), the analysis of the counts, their report,
per-function profiles and budgets (docs/instructions.md)."""
