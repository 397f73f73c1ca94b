import os
import stat

import yaml

from bot.sim.kubeconfig import write_kubeconfig


def test_kubeconfig_points_at_the_sim(tmp_path):
    path = write_kubeconfig(tmp_path / "nested" / "config", "http://127.0.0.1:1234", context="meltdown",
                            namespace="prod")
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "meltdown"
    assert config["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1234"
    assert config["contexts"][0]["context"]["namespace"] == "prod"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
