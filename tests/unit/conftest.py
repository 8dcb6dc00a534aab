"""The properties here are about results, not time: no deadline per example.

On a loaded machine (the suite under ``-n 2`` beside another run) one example of
``test_groups_partition_the_tests_in_order`` once took 0.6 s, and Hypothesis
failed it against its default deadline of 0.2 s.
"""

from hypothesis import settings

settings.register_profile("asyncgroup", deadline=None)
settings.load_profile("asyncgroup")
