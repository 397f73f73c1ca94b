"""One typed `Diagnosis`, four sinks: `text` (the CLI and the demo), `slack` (Block Kit), `markdown` (the
postmortem's pieces) and `json` (`--format json`, the stored shape).

The decisions live upstream and once: the order of findings and of the timeline and how repeats fold
(`order`, `timeline`), the probable cause and the rollback decision (`Diagnosis.cause`, `Diagnosis.rollback`).
A sink only lays them out; none sorts, folds or re-derives a recommendation of its own.
"""
