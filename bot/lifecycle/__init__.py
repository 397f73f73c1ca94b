"""The incident's lifecycle in production, one job handler per module: diagnose on trigger, keep the
Slack thread up to date, draft the postmortem on resolve. `coroner serve`'s workers run these, and the
demo drives the same path."""
