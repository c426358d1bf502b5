"""Reports of end-to-end runs: the machine, the training logs, reproducibility and the results README.

Import each from its module (`rlpt_trl.reports.hardware`, `.training`, `.reproducibility`, `.glue_summary`,
`.results_readme`): the package itself loads nothing.
"""
