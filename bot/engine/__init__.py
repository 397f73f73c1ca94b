"""The playbook engine.

- `bot.engine.diagnose.diagnose(service, *, cluster, playbook, images=None, catalog=None, namespace=None,
  node_proxy_enabled=False, clock=None) -> Diagnosis`: the one call the CLI, Slack and jobs make.
- `bot.engine.playbook`: `load_playbooks(dir)`, `select_playbook(..., name=, trigger=)`, `PlaybookError`.
- `bot.engine.registry.CHECKS`: the explicit table of checks (name, function, params model, rules).
- `bot.engine.runner.run_playbook`: concurrent checks, per-check and whole-run timeouts, gaps as findings.
- `bot.engine.resolve`: service -> workload (catalog, Deployment name, app labels).
"""
