"""Local doubles of the SaaS Coroner talks to: real servers on loopback that speak the real wire format."""
