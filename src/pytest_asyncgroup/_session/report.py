"""What the worker loop recorded about a test, on its teardown report.

Key waits, the hold of a worker's last test, and the longest stretch the test
held the loop ride on the teardown report as the attribute
:data:`REPORT_ATTRIBUTE`: plain JSON, so xdist serializes it with the report
and the controller's observer reads it as one process's does.
"""

REPORT_ATTRIBUTE = "asyncgroup"
