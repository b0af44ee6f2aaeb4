"""A failed command's reason says how it ended and how its stderr ended; the stderr stays in the log."""

from autodehypo.execution import LocalExecutor
from autodehypo.objectives import CommandObjective
from test_local_executor import run_all

NOISY = "echo first >&2; echo second >&2; echo >&2; echo third >&2; echo fourth >&2; echo progress; exit 3"


def test_exit_code_and_the_end_of_stderr(tmp_path):
    objective = CommandObjective(command=["sh", "-c", NOISY], param_names=[])
    result = run_all(LocalExecutor(objective, workers=1), {0: {}}, log_dir=tmp_path)[0]
    assert result.error == "RuntimeError: command exited with code 3; stderr ends: second | third | fourth"
    log = (tmp_path / "0.log").read_text()  # the command's stderr, then the trial's traceback
    assert log.split()[:4] == ["first", "second", "third", "fourth"] and "Traceback" in log


def test_killed_by_a_signal_is_named():
    objective = CommandObjective(command=["sh", "-c", "kill -SEGV $$"], param_names=[])
    result = run_all(LocalExecutor(objective, workers=1), {0: {}})[0]
    assert result.error == "RuntimeError: command killed by signal SIGSEGV"


def test_a_long_stderr_line_is_cut_to_its_end():
    objective = CommandObjective(command=["sh", "-c", "printf 'x%.0s' $(seq 1000) >&2; echo END >&2; exit 1"],
                                 param_names=[])
    result = run_all(LocalExecutor(objective, workers=1), {0: {}})[0]
    reason = result.error.split("stderr ends: ", 1)[1]
    assert len(reason) == 300 and reason.startswith("...") and reason.endswith("xxEND")
