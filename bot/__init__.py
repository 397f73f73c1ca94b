"""Coroner: diagnoses an incident's service and drafts its postmortem."""

__version__ = "0.1.0"
