"""Test doubles: local HTTP doubles of the APIs Coroner talks to (PagerDuty, Slack, an OCI registry),
speaking their real wire format, and the in-memory readers the unit tests of the checks and the image
autopsy use (`cluster_reader`, `images`). None of this ships in the wheel."""
