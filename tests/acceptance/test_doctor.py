"""``--asyncgroup-doctor``: the tests not safe to overlap, and what to declare.

docs: "Adopt an existing suite". Each suite runs with the doctor in one process
and under ``-n 2``; the findings are read from its JSON, and its suggested
``conftest.py`` is applied to show that the run then passes.
"""

from __future__ import annotations

import json

import pytest

DIST = "--dist=asyncgroup"
MODES = pytest.mark.parametrize("mode", [[], ["-n", "2"]], ids=["one-process", "n2"])

SUITE = """
import asyncio, os, socket
import pytest

DATA = "shared.txt"

async def test_writer_a():
    with open(DATA, "w") as fh:
        fh.write("a")
    await asyncio.sleep(0.3)
    with open(DATA) as fh:
        assert fh.read() == "a"

async def test_writer_b():
    await asyncio.sleep(0.1)
    async def write():
        with open(DATA, "w") as fh:   # in a task the test started
            fh.write("b")
    await asyncio.get_running_loop().create_task(write())
    await asyncio.sleep(0.3)

async def test_reader():
    await asyncio.sleep(0.05)
    with open("readme.txt") as fh:
        fh.read()
    await asyncio.sleep(0.3)

async def test_reader_too():
    with open("readme.txt") as fh:
        fh.read()
    await asyncio.sleep(0.3)

@pytest.mark.parametrize("i", range(2))
async def test_binds(i):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 18765))
    await asyncio.sleep(0.3)
    sock.close()

async def test_sets_env():
    os.environ["DOCTOR_MODE"] = "on"
    await asyncio.sleep(0.3)
    del os.environ["DOCTOR_MODE"]

@pytest.mark.parametrize("i", range(2))
async def test_own_tmp_path(tmp_path, i):
    (tmp_path / "data.txt").write_text("x")
    await asyncio.sleep(0.3)
"""


def _doctor(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, object]]:
    path = pytester.path / "doctor.json"
    result = pytester.runpytest_subprocess(
        DIST, "--asyncgroup-doctor", f"--asyncgroup-doctor-json={path}", *args, timeout=300
    )
    return result, json.loads(path.read_text())


@MODES
def test_the_doctor_names_conflicts_and_the_declarations_that_remove_them(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "readme.txt").write_text("read only")
    result, found = _doctor(pytester, *mode)
    # The run's own outcome stands: the doctor changes none.
    result.assert_outcomes(passed=8, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    conflicts = {(c["kind"], c["target"]): c for c in found["conflicts"]}  # type: ignore[attr-defined]
    assert set(conflicts) == {("file", "shared.txt"), ("port", "18765"), ("env", "DOCTOR_MODE")}
    shared = conflicts["file", "shared.txt"]
    assert shared["changed_by"] == {
        "test_suite.py::test_writer_a": "test_suite.py:7",
        "test_suite.py::test_writer_b": "test_suite.py:16",
    }
    marks = {(d["test"], d["mark"]) for d in found["declarations"]}  # type: ignore[attr-defined]
    assert marks == {
        (
            "test_suite.py::test_writer_a",
            "@pytest.mark.resource('file:shared.txt', exclusive=True)",
        ),
        (
            "test_suite.py::test_writer_b",
            "@pytest.mark.resource('file:shared.txt', exclusive=True)",
        ),
        ("test_suite.py::test_binds[0]", "@pytest.mark.resource('port:18765', exclusive=True)"),
        ("test_suite.py::test_binds[1]", "@pytest.mark.resource('port:18765', exclusive=True)"),
        ("test_suite.py::test_sets_env", "@pytest.mark.serial"),
    }
    only = found["failed_only_when_overlapped"]
    assert [entry["test"] for entry in only] == ["test_suite.py::test_writer_a"]  # type: ignore[index]
    assert "file shared.txt" in only[0]["shared"]  # type: ignore[index]
    result.stdout.fnmatch_lines(
        [
            "*= asyncgroup doctor =*",
            "failed only when overlapped (passed when run alone): 1",
            "  test_suite.py::test_writer_a: beside *; touched in common: *file shared.txt*",
            "conflicts between overlapping tests: 3",
        ]
    )
    # Applied, the suggestions make the suite pass.
    pytester.makeconftest(str(found["conftest"]))
    again = pytester.runpytest_subprocess(DIST, *mode, timeout=300)
    again.assert_outcomes(passed=9)


def test_without_the_doctor_nothing_is_recorded_or_printed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "readme.txt").write_text("read only")
    result = pytester.runpytest_subprocess(DIST, timeout=300)
    result.assert_outcomes(passed=8, failed=1)
    result.stdout.no_fnmatch_line("*asyncgroup doctor*")


def test_patches_through_monkeypatch_are_no_conflict(pytester: pytest.Pytester) -> None:
    """Per test, or holding the others still: nothing another test could see."""
    pytester.makepyfile(
        test_patching="""
        import asyncio, os
        import pytest

        @pytest.mark.parametrize("i", range(3))
        async def test_setenv(monkeypatch, i):
            monkeypatch.setenv("DOCTOR_PATCHED", str(i))
            await asyncio.sleep(0.1)
            assert os.environ["DOCTOR_PATCHED"] == str(i)

        @pytest.mark.parametrize("i", range(3))
        async def test_free(i):
            await asyncio.sleep(0.1)
            assert "DOCTOR_PATCHED" not in os.environ
        """
    )
    result, found = _doctor(pytester)
    result.assert_outcomes(passed=6)
    assert found["conflicts"] == []
    assert found["declarations"] == []


def test_a_file_opened_to_write_and_left_unchanged_is_read_and_tmp_files_are_nobodys(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_opens="""
        import asyncio, tempfile

        async def test_opens_to_append_and_only_reads():
            with open("data.txt", "a+") as fh:
                fh.seek(0)
                fh.read()
            await asyncio.sleep(0.2)

        async def test_reads():
            with open("data.txt") as fh:
                fh.read()
            await asyncio.sleep(0.2)

        async def test_unnamed_temporary_files():
            with tempfile.TemporaryFile("w+") as fh:
                fh.write("mine")
            await asyncio.sleep(0.2)

        async def test_more_unnamed_temporary_files():
            with tempfile.TemporaryFile("w+") as fh:
                fh.write("mine too")
            await asyncio.sleep(0.2)
        """
    )
    (pytester.path / "data.txt").write_text("shared")
    result, found = _doctor(pytester)
    result.assert_outcomes(passed=4)
    assert found["conflicts"] == []


def test_a_port_found_then_bound_elsewhere_meanwhile_is_named_find_then_bind(
    pytester: pytest.Pytester,
) -> None:
    """A test finds a port (bind to port 0, close) to bind its server later; the
    run keeps it from every other test's find, but not from a bind outside them
    (a subprocess, another process): the doctor names the pattern, not a key."""
    pytester.makepyfile(
        test_found="""
        import asyncio, pathlib, socket

        FOUND = pathlib.Path("found.txt")

        def unused_port():
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                return sock.getsockname()[1]

        async def test_finds_then_binds():
            port = unused_port()
            FOUND.write_text(str(port))
            await asyncio.sleep(0.4)
            with socket.socket() as server:
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind(("127.0.0.1", port))

        async def test_binds_it_meanwhile():
            while not FOUND.exists():
                await asyncio.sleep(0.01)
            with socket.socket() as other:  # as another process would
                other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                other.bind(("127.0.0.1", int(FOUND.read_text())))
                await asyncio.sleep(0.2)
        """
    )
    result, found = _doctor(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    conflicts = found["conflicts"]
    (conflict,) = [c for c in conflicts if c["kind"] == "port"]  # type: ignore[attr-defined]
    assert conflict["found_by"] == {"test_found.py::test_finds_then_binds": "test_found.py:7"}
    assert conflict["key"] is None
    keys = {d["key"] for d in found["declarations"]}  # type: ignore[attr-defined]
    assert keys == {"file:found.txt"}  # (how the two tests talk), and no port key
    result.stdout.fnmatch_lines(
        [
            "*found by test_found.py::test_finds_then_binds (test_found.py:7) with a bind to"
            " port 0, closed, then bound again (find, then bind): something else bound it*",
            "*no key removes it*bind the server to port 0 and read its port back*",
        ]
    )
