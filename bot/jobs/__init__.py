"""The typed commands that stages hand each other through the durable job queue.

Each command is one module: a frozen dataclass, its job `KIND`, and its payload codec. The codec is
strict (an unknown or missing key is a `JobPayloadError`), so a renamed field fails loudly instead of
turning into `None` three stages later.
"""
