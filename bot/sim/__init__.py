"""A simulated Kubernetes API server fed by scenario files (demo, tests, game days, benchmarks).

Public entry points (docs/scenarios.md has the details):
- `bot.sim.scenario.load_scenario(name_or_path) -> Scenario`, `shipped_scenarios()`, `ScenarioError`
- `bot.sim.server.running_sim(scenario) -> SimServer` (context manager; `.url`, `.write_kubeconfig(...)`)
- `bot.sim.generate.generate_scenario(nodes=N, pods_per_node=10, ...) -> Scenario`
- `bot.sim.images.ScenarioImageReader(scenario)`: the `ImageReader` port on recorded image evidence
- `bot.sim.registry.SimRegistry(scenario)`: the scenario's images as an OCI registry (`/v2/` on the sim's port)
"""
