"""A simulated Kubernetes API server fed by scenario files (demo, tests, game days, benchmarks).

Public entry points:
- `bot.sim.scenario.load_scenario(name_or_path) -> Scenario`
- `bot.sim.server.running_sim(scenario) -> SimServer` (context manager; `.url`, `.write_kubeconfig(...)`)
- `bot.sim.generate.generate_scenario(nodes=N, ...) -> Scenario`
- `bot.sim.images.ScenarioImageReader(scenario)`
"""
