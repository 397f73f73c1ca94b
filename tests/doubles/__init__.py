"""Local HTTP doubles of the SaaS APIs Coroner talks to, speaking their real wire format."""
