"""The commands (`canary render`, `verify`, `traffic`, `rollout`): flags in, exit status out.

The top floor: each command wires the layers below it, and nothing below imports this package.
"""
