"""Every touch of pytest's, pytest-xdist's, pytest-asyncio's, anyio's and asyncio's internals.

Each function says which private names it relies on and the versions it was
checked on. Supported: pytest 8.3 - 9.2, pytest-xdist 3.6 - 3.8,
pytest-asyncio 1.x (optional). The test suite runs against the oldest and the
newest of these (see ``noxfile.py``).

One module per project whose internals it touches: ``pytest.py``, ``xdist.py``,
``pytest_asyncio.py``, ``anyio.py``, ``python.py`` (asyncio, and Python versions), and
``patching.py`` (pytest's ``MonkeyPatch`` and ``unittest.mock``, routed together).
The rest of the package imports them from here.
"""

from __future__ import annotations

from .anyio import (
    ANYIO_BACKEND as ANYIO_BACKEND,
)
from .anyio import (
    anyio_backend_at_collection as anyio_backend_at_collection,
)
from .anyio import (
    anyio_backend_name as anyio_backend_name,
)
from .patching import (
    is_mock as is_mock,
)
from .patching import (
    patching_routed as patching_routed,
)
from .pytest import (
    TEST_OUTCOME as TEST_OUTCOME,
)
from .pytest import (
    FixtureDefChoice as FixtureDefChoice,
)
from .pytest import (
    MakeLogPhase as MakeLogPhase,
)
from .pytest import (
    cached_on_test_or_session as cached_on_test_or_session,
)
from .pytest import (
    caching_node as caching_node,
)
from .pytest import (
    capture_manager as capture_manager,
)
from .pytest import (
    capture_method as capture_method,
)
from .pytest import (
    current_test_var_tolerant as current_test_var_tolerant,
)
from .pytest import (
    empty_copy as empty_copy,
)
from .pytest import (
    fixture_execute_wrapped as fixture_execute_wrapped,
)
from .pytest import (
    fixture_finish_wrapped as fixture_finish_wrapped,
)
from .pytest import (
    fixture_function_swapped as fixture_function_swapped,
)
from .pytest import (
    fixture_info_key as fixture_info_key,
)
from .pytest import (
    fixture_label as fixture_label,
)
from .pytest import (
    fixture_names as fixture_names,
)
from .pytest import (
    fixture_requests as fixture_requests,
)
from .pytest import (
    fixturedefs_chosen as fixturedefs_chosen,
)
from .pytest import (
    higher_scope_params as higher_scope_params,
)
from .pytest import (
    is_function_scoped as is_function_scoped,
)
from .pytest import (
    log_capture_handler as log_capture_handler,
)
from .pytest import (
    log_phase_replaced as log_phase_replaced,
)
from .pytest import (
    logging_plugin as logging_plugin,
)
from .pytest import (
    memory_stream as memory_stream,
)
from .pytest import (
    method_replaced as method_replaced,
)
from .pytest import (
    nothing_to_undo as nothing_to_undo,
)
from .pytest import (
    resolve_fixture_function as resolve_fixture_function,
)
from .pytest import (
    setupstate_replaced as setupstate_replaced,
)
from .pytest import (
    stepwise_pin as stepwise_pin,
)
from .pytest import (
    store_caplog as store_caplog,
)
from .pytest import (
    temp_roots as temp_roots,
)
from .pytest import (
    test_argnames as test_argnames,
)
from .pytest_asyncio import (
    DEFAULT_LOOP as DEFAULT_LOOP,
)
from .pytest_asyncio import (
    FUNCTION_LOOP as FUNCTION_LOOP,
)
from .pytest_asyncio import (
    LoopFactory as LoopFactory,
)
from .pytest_asyncio import (
    loop_factories_hooked as loop_factories_hooked,
)
from .pytest_asyncio import (
    loop_factory_asked as loop_factory_asked,
)
from .pytest_asyncio import (
    loop_factory_names as loop_factory_names,
)
from .pytest_asyncio import (
    loop_policy_override as loop_policy_override,
)
from .pytest_asyncio import (
    loop_scope_of_fixture as loop_scope_of_fixture,
)
from .pytest_asyncio import (
    loop_scope_of_test as loop_scope_of_test,
)
from .pytest_asyncio import (
    plain_function_methods as plain_function_methods,
)
from .python import (
    BaseExceptionGroup as BaseExceptionGroup,
)
from .python import (
    run_on_new_loop as run_on_new_loop,
)
from .python import (
    running_loop_or_none as running_loop_or_none,
)
from .python import (
    set_running_loop as set_running_loop,
)
from .xdist import (
    DIST_MODE as DIST_MODE,
)
from .xdist import (
    LOGFINISH as LOGFINISH,
)
from .xdist import (
    LOGSTART as LOGSTART,
)
from .xdist import (
    PROTOCOL_COMPLETE as PROTOCOL_COMPLETE,
)
from .xdist import (
    RUNTESTS as RUNTESTS,
)
from .xdist import (
    RUNTESTS_ALL as RUNTESTS_ALL,
)
from .xdist import (
    SHUTDOWN as SHUTDOWN,
)
from .xdist import (
    STEAL as STEAL,
)
from .xdist import (
    TESTREPORT as TESTREPORT,
)
from .xdist import (
    UNSCHEDULED as UNSCHEDULED,
)
from .xdist import (
    add_dist_choice as add_dist_choice,
)
from .xdist import (
    collection_difference as collection_difference,
)
from .xdist import (
    crash_report as crash_report,
)
from .xdist import (
    max_worker_restart as max_worker_restart,
)
from .xdist import (
    parser_of as parser_of,
)
from .xdist import (
    report_worker as report_worker,
)
from .xdist import (
    requested_dist as requested_dist,
)
from .xdist import (
    route_worker_events as route_worker_events,
)
from .xdist import (
    set_item_index as set_item_index,
)
from .xdist import (
    unpack_worker_events as unpack_worker_events,
)
from .xdist import (
    worker_count as worker_count,
)
from .xdist import (
    worker_event_sender as worker_event_sender,
)
from .xdist import (
    worker_id as worker_id,
)
from .xdist import (
    worker_input as worker_input,
)
from .xdist import (
    worker_interactor as worker_interactor,
)
from .xdist import (
    worker_is_local as worker_is_local,
)
from .xdist import (
    worker_output as worker_output,
)
from .xdist import (
    worker_share as worker_share,
)
