"""Checks: one module per family (nodes, disk, workload, rollout, hpa, image, dockerfile).

Each exposes `RULES`, a params model and `run(ctx, params) -> list[Finding]`; `bot.engine.registry`
lists them. Shared facts about the service (its Deployment, pods, revisions, image sizes) live in
`facts`, memoised per run so concurrent checks compute them once.
"""
