"""Dockerfile doctor: parser, shell analysis of RUN, rules, fixer, build-context audit and reports.

Imports stay lean: `coroner lint` starts a Python process per CI run, and start-up time is the budget.
"""
