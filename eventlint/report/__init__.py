"""Reporters turn a ``CheckResult`` into text for people or machines."""
