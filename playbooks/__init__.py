"""Playbooks shipped with Coroner (YAML files; this file only makes the directory a package)."""
