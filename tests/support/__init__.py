"""What the tests share: fixtures' data, fakes, servers and checkers, imported by test modules.

A test module (test_*.py) imports from here, never from another test module; conftest.py files
hand these to tests as fixtures.
"""
