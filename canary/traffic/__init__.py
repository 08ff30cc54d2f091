"""Traffic for a canary release: ``verify`` proves the split, ``traffic`` keeps a dashboard fed.

Nothing here imports the Pulumi components, so ``python -m canary verify`` and
``python -m canary traffic`` start without loading them; the commands' entry points are
``canary.cli.traffic.verify_main`` and ``canary.cli.traffic.traffic_main``.
"""
