"""`coroner demo`: the outage replayed end to end."""
