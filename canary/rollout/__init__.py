"""`python -m canary rollout`: drive a stack through its canary steps, judge each, promote or roll back.

Every step is a stack config change plus a `pulumi up` through the Automation API, so the stack
file always says where the release stands and `pulumi stack history` is the audit log. Nothing
runs in the cluster.
"""
