"""Slack surface: mrkdwn escaping, Block Kit builders, bolt listeners, the ASGI route, Socket Mode,
the poster, Slack's health and the app manifest.

`blocks`, `mrkdwn` and `manifest` are pure; the others import slack_bolt/slack_sdk.
"""
