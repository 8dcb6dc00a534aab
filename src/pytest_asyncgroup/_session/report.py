"""What the worker loop recorded about a test, on its teardown report.

Key waits, the hold of a worker's last test, and the longest stretch the test
held the loop ride on the teardown report as the attribute
:data:`REPORT_ATTRIBUTE`: plain JSON, so xdist serializes it with the report
and the controller's observer reads it as one process's does. Only the fields
recorded are there (``engine_hooks.recorded``); every reader defaults the rest.
"""

REPORT_ATTRIBUTE = "asyncgroup"
