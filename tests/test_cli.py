"""The `autodehypo` command, run as a real subprocess."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import toy_toml

GOOD = toy_toml(seed=2, evaluations=12)


def cli(args, env, cwd=None):
    return subprocess.run([sys.executable, "-m", "autodehypo", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_run_status_report_export(tmp_path, subprocess_env):
    config = write(tmp_path, GOOD)
    run = cli(["run", str(config), "--dir", str(tmp_path / "s")], subprocess_env)
    assert run.returncode == 0, run.stderr
    assert "best:" in run.stdout and "params:  x0=" in run.stdout and "energy:" in run.stdout
    assert "evals 12/12" in run.stderr  # plain progress lines when not on a terminal
    status = cli(["status", str(tmp_path / "s")], subprocess_env)
    assert "evaluations:  12 of 12" in status.stdout and "state:        finished" in status.stdout
    report = cli(["report", str(tmp_path / "s")], subprocess_env)
    assert "best value:" in report.stdout and "12 complete" in report.stdout
    assert "[budget source: estimate]" in report.stdout and "estimate: ok" in report.stdout
    out = tmp_path / "t.csv"
    assert cli(["export", str(tmp_path / "s"), "--format", "csv", "-o", str(out)],
               subprocess_env).returncode == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 13 and "param_x0" in lines[0] and "metric_x_sum" in lines[0]
    again = cli(["resume", str(tmp_path / "s")], subprocess_env)
    assert again.returncode == 0 and "trials:  12 run" in again.stdout


def test_every_summary_names_the_study(tmp_path, subprocess_env):
    # No study.name: the file's stem names it, even with a --dir of another name.
    config = write(tmp_path, GOOD.replace('name = "toy"\n', ""), name="sphere_trial.toml")
    directory = tmp_path / "elsewhere"
    run = cli(["run", str(config), "--dir", str(directory)], subprocess_env)
    status = cli(["status", str(directory)], subprocess_env)
    report = cli(["report", str(directory)], subprocess_env)
    for out in (run.stdout, status.stdout, report.stdout):
        study_line = next(line for line in out.splitlines() if line.startswith("study:"))
        assert "sphere_trial" in study_line and "?" not in study_line, out
        assert str(directory) in out
    # The table of the same report agrees with its summary.
    assert any(line.startswith("sphere_trial ") for line in report.stdout.splitlines())


def test_parameters_print_with_sensible_precision(tmp_path, subprocess_env):
    config = write(tmp_path, GOOD.replace('function = "toy_objectives:slow_sphere"',
                                          'function = "toy_objectives:sphere"') + """
[space.n]
type = "int"
low = 1
high = 9
[space.opt]
type = "categorical"
choices = ["sgd", "adam"]
""")
    directory = tmp_path / "s"
    run = cli(["run", str(config), "--dir", str(directory)], subprocess_env)
    status = cli(["status", str(directory)], subprocess_env)
    report = cli(["report", str(directory)], subprocess_env)
    params = re.search(r"^params:  x0=(\S+), x1=(\S+), n=(\S+), opt=(\S+)$", run.stdout, re.M)
    assert params, run.stdout
    x0, x1, n, opt = params.groups()
    for text in (x0, x1):  # 4 significant digits, not 17
        assert f"{float(text):.4g}" == text and len(text.lstrip("-").replace(".", "")) <= 6, text
    assert re.fullmatch(r"[1-9]", n) and opt in ("sgd", "adam")
    assert f"x0={x0}, x1={x1}, n={n}, opt={opt}" in status.stdout
    assert f"  x0 = {x0}\n  x1 = {x1}\n  n = {n}\n  opt = {opt}\n" in report.stdout


def test_default_directory_and_overrides(tmp_path, subprocess_env):
    config = write(tmp_path, GOOD)
    run = cli(["run", str(config), "--workers", "1", "--seed", "9"], subprocess_env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "studies" / "toy" / "study.db").is_file()
    second = cli(["run", str(config)], subprocess_env, cwd=tmp_path)
    assert second.returncode == 3 and "already holds a study" in second.stderr


BAD = [
    ("[study]\nalgorithm = 'pso'\n", "study.algorithm: unknown algorithm 'pso'"),
    ("[study]\npopulaton = 5\n", "study: unknown key(s) ['populaton']"),
    ("[stduy]\nseed = 1\n", "config: unknown key(s) ['stduy']"),
    ("[space.x0]\ntype = 'float'\nlow = 2.0\nhigh = 1.0\n", "space.x0: low must be below high"),
    ("[space.x0]\ntype = 'float'\nlow = 0.0\nhigh = 1.0\nlog = true\n", "space.x0: a log scale needs low > 0"),
    ("[space.x0]\ntype = 'categorical'\nchoices = []\n", "space.x0.choices: needs at least one choice"),
    ("[space.x0]\ntype = 'gaussian'\n", "space.x0.type: unknown type 'gaussian'"),
    ("[study.budget]\nevaluations = -4\n", "study.budget.evaluations: expected an integer >= 1, got -4"),
    ("[study.budget]\nwall_time = 'soon'\n", "study.budget.wall_time: cannot read 'soon'"),
    ("[study.budget]\nenergy = '3 parsecs'\n", "study.budget.energy: cannot read '3 parsecs'"),
    ("[study.options]\nF = 7.0\n", "study.options: F must be in (0, 2], got 7.0"),
    ("[study.options]\nstrategy = 'best/5/bin'\n", "strategy must be one of"),
    ("[objective]\ntype = 'magic'\n", "objective.type: unknown type 'magic'"),
    ("[objective]\nfunction = 'toy_objectives:nope'\n", "has no attribute 'nope'"),
    ("[executor]\nworkers = 0\n", "executor.workers: expected an integer >= 1, got 0"),
    ("[study]\nalgorithm = 'jso'\n[study.budget]\nwall_time = '1h'\n",
     "study.budget.evaluations: jso needs an evaluation budget"),
    ("[study]\nalgorithm = 'de'\n[study.budget]\nwall_time = '1h'\n[study.options]\nprescreen = 4\n"
     "cost_weight = 0.4\ncost_cooling = true\n",
     "study.budget.evaluations: cost_cooling needs an evaluation budget"),
    ("[study]\npopulation = 3\n", "study.population: population must be an integer >= 4"),
    ("[executor]\ntype = 'cloud'\n", "executor.type: unknown executor 'cloud'"),
]


def _merge(good, bad):
    """The good config with the bad snippet's keys replacing or joining its own."""
    import tomllib
    data = tomllib.loads(good)
    for section, table in tomllib.loads(bad).items():
        base = data.setdefault(section, {})
        base.update(table)
    return data


def _dump(data, prefix=""):
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {value!r}".replace("True", "true").replace("False", "false"))
    out = ([f"[{prefix}]"] if prefix and lines else []) + lines
    for key, value in tables:
        out += _dump(value, f"{prefix}.{key}" if prefix else key)
    return out


@pytest.mark.parametrize("snippet, message", BAD)
def test_bad_config_one_line_exit_2_no_directory(tmp_path, subprocess_env, snippet, message):
    config = tmp_path / "bad.toml"
    config.write_text("\n".join(_dump(_merge(GOOD, snippet))) + "\n")
    run = cli(["run", str(config), "--dir", str(tmp_path / "s")], subprocess_env)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("args, message", [
    (["run"], "the following arguments are required: config"),
    (["run", "missing.toml"], "cannot read config 'missing.toml'"),
    (["run", "{cfg}", "--workers", "0"], "--workers: expected an integer >= 1, got 0"),
    (["run", "{cfg}", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["fly"], "invalid choice: 'fly'"),
    (["status", "{tmp}/nowhere"], "no study here"),
])
def test_bad_arguments_one_line(tmp_path, subprocess_env, args, message):
    cfg = write(tmp_path, GOOD)
    args = [a.format(cfg=cfg, tmp=tmp_path) for a in args]
    run = cli(args, subprocess_env, cwd=tmp_path)
    assert run.returncode in (2, 3), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "studies").exists()


def test_not_toml(tmp_path, subprocess_env):
    bad = write(tmp_path, "[study\nname = 1\n")
    run = cli(["run", str(bad), "--dir", str(tmp_path / "s")], subprocess_env)
    assert run.returncode == 2 and "not valid TOML" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "examples").glob("*.toml")),
                         ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    from autodehypo import load_config
    config, _ = load_config(path)
    assert config.budget.evaluations


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    from autodehypo import Study
    from conftest import toy_config
    directory = tmp_path_factory.mktemp("cli") / "s"
    Study.create(directory, toy_config(evaluations=8, population=4)).run()
    return directory


@pytest.mark.parametrize("args, command, message", [
    (["run", "{cfg}", "--seed", "-1"], "run", "--seed: expected an integer >= 0, got -1"),
    (["run", "{cfg}", "--workers", "0"], "run", "--workers: expected an integer >= 1, got 0"),
    (["plot", "{study}", "--kind", "energy", "-o", "{tmp}/e.png"], "plot", "--kind energy needs --by PARAM"),
    (["plot", "{study}", "--kind", "energy", "--by", "lr", "-o", "{tmp}/e.png"], "plot",
     "--by: no parameter 'lr' in these studies"),
    (["plot", "{study}", "-o", "{tmp}/e.jpg"], "plot", "-o: the plot file must end in .png or .svg, got 'e.jpg'"),
    (["export", "{study}", "--format", "parquet"], "export", "--format parquet: give the file with -o FILE"),
    (["report", "{study}", "--group-by", "lr"], "report", "--group-by: no parameter 'lr' in these studies"),
    (["slurm", "script", "{cfg}", "--partition", "a b"], "slurm script",
     "--partition: 'a b' has characters sbatch would not take safely"),
    (["report", "{study}", "-o", "{tmp}/nowhere/r.md"], "report", "-o: cannot write {tmp}/nowhere/r.md: no directory"),
    (["report", "{study}", "--format", "html", "-o", "{tmp}"], "report", "-o: {tmp} is a directory; give a file name"),
    (["export", "{study}", "-o", "{tmp}"], "export", "-o: {tmp} is a directory; give a file name"),
    (["export", "{study}", "--format", "parquet", "-o", "{tmp}/nowhere/t.parquet"], "export",
     "-o: cannot write {tmp}/nowhere/t.parquet: no directory"),
    (["plot", "{study}", "-o", "{tmp}/nowhere/e.png"], "plot", "-o: cannot write {tmp}/nowhere/e.png: no directory"),
])
def test_command_line_mistakes_say_so(tmp_path, subprocess_env, finished_study, args, command, message):
    cfg = write(tmp_path, GOOD)
    args = [a.format(cfg=cfg, tmp=tmp_path, study=finished_study) for a in args]
    run = cli(args, subprocess_env, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    message = message.format(tmp=tmp_path)
    assert run.stderr.startswith(f"autodehypo {command}: error: {message}"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "config error" not in run.stderr
    assert not (tmp_path / "studies").exists() and not list(tmp_path.glob("e.*"))



FAILING = """
[study]
seed = 1
population = 4
[study.budget]
evaluations = 8
[space.mode]
type = "categorical"
choices = ["raise"]
[objective]
type = "python"
function = "toy_objectives:misbehave"
[executor]
workers = 2
"""


def test_a_study_without_a_completed_trial_exits_4(tmp_path, subprocess_env):
    config = write(tmp_path, FAILING)
    directory = tmp_path / "s"
    for command in (["run", str(config), "--dir", str(directory)], ["resume", str(directory)]):
        run = cli(command, subprocess_env)
        assert run.returncode == 4, run.stderr
        assert "best:    no trial completed" in run.stdout
        last = run.stderr.strip().splitlines()[-1]
        assert last.startswith("autodehypo: finished without a completed trial: all 8 trials failed"), last
        log = re.search(r"\(log: (\S+/trials/(\d{6})\.log)\)$", last)
        assert log and Path(log.group(1)).is_file(), last
        assert f"trial {int(log.group(2))}: RuntimeError: boom" in last
    assert "4 finished without a completed trial" in " ".join(cli(["--help"], subprocess_env).stdout.split())
