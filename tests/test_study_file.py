"""The study file under concurrent creation, crashes, damage, a read-only directory and a full disk."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from autodehypo.cli import main
from conftest import export_rows, toy_toml


def config(tmp_path, evaluations):
    path = tmp_path / f"c{evaluations}.toml"
    path.write_text(toy_toml(seed=5, evaluations=evaluations))
    return path


def autodehypo(args, env, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "autodehypo", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def one_line(text):
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


def test_two_runs_creating_one_study_at_once(tmp_path, subprocess_env):
    path = config(tmp_path, 6)
    env = {**subprocess_env, "TOY_SLEEP": "0"}
    for attempt in range(10):
        study = tmp_path / f"s{attempt}"
        procs = [autodehypo(["run", str(path), "--dir", str(study)], env) for _ in range(2)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 3], results
        loser = next(err for code, err in results if code == 3)
        assert one_line(loser) and ("already holds a study" in loser or "another driver" in loser), loser
        assert sorted(p.name for p in study.iterdir()) == ["driver.lock", "study.db", "trials"]
        assert len(export_rows(study)) == 6


def finished_count(db):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials WHERE status IN ('complete', 'failed')").fetchone()[0]
    except sqlite3.Error:
        return -1


def test_readers_work_right_after_a_sigkill(tmp_path, subprocess_env, capsys):
    env = {**subprocess_env, "TOY_SLEEP": "0.01"}
    study = tmp_path / "s"
    proc = autodehypo(["run", str(config(tmp_path, 240)), "--dir", str(study)], env)
    deadline = time.monotonic() + 60
    while finished_count(study / "study.db") < 1:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    rng = np.random.default_rng(int(os.environ.get("KILL_SEED", "12")))
    kills = 0
    for delay in rng.uniform(0.02, 0.5, size=15):
        time.sleep(delay)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        outputs = []
        for command in (["status", str(study)], ["export", str(study)], ["report", str(study)]):
            code = main(command)
            out, err = capsys.readouterr()
            assert code == 0 and err == "", (kills, command, err)
            outputs.append(out)
        assert "driver gone" in outputs[0] and outputs[1].startswith("number,generation")
        proc = autodehypo(["resume", str(study)], env)
    assert kills >= 5
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert len(export_rows(study)) == 240


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished study, made once; tests damage copies of it."""
    base = tmp_path_factory.mktemp("finished")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__),
                                                         os.environ.get("PYTHONPATH", "")]),
           "TOY_SLEEP": "0"}
    run = subprocess.run([sys.executable, "-m", "autodehypo", "run", str(config(base, 60)), "--dir",
                          str(base / "s")], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert not (base / "s" / "study.db-wal").exists()  # checkpointed when the driver closed it
    return base / "s"


def copy_of(finished, tmp_path):
    study = tmp_path / "s"
    shutil.copytree(finished, study)
    return study


def sql(study, statement):
    with sqlite3.connect(study / "study.db") as conn:
        conn.execute(statement)
    conn.close()


def overwrite_middle_page(study):
    """Overwrite the middle page of the trials table, which every command reads (the middle page
    of the file may belong to the checkpoints, which status, export and resume never read; which
    table it is depends on how the trials' and checkpoints' inserts interleaved)."""
    db = study / "study.db"
    page = db.stat().st_size // 4096 // 2
    with sqlite3.connect(db) as conn:
        try:
            trials = [n - 1 for (n,) in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'trials' AND pagetype = 'leaf' ORDER BY pageno")]
            page = trials[len(trials) // 2]
        except sqlite3.OperationalError:  # an SQLite built without dbstat: the file's middle page
            pass
    conn.close()
    with open(db, "r+b") as f:
        f.seek(page * 4096)
        f.write(bytes(range(256)) * 16)


DAMAGE = {
    "corrupted page": (overwrite_middle_page, "sqlite: database disk image is malformed; restore it from a backup"),
    "dropped table": (lambda s: sql(s, "DROP TABLE trials"), "no such table: trials"),
    "bad JSON": (lambda s: sql(s, "UPDATE trials SET params = '{\"x0\": ' WHERE number = 7"),
                 "trial 7: params holds bad JSON"),
    "bogus status": (lambda s: sql(s, "UPDATE trials SET status = 'exploded' WHERE number = 3"),
                     "trial 3 has unknown status 'exploded'"),
    "study.db a directory": (lambda s: ((s / "study.db").unlink(), (s / "study.db").mkdir()),
                             "study.db: not a regular file"),
}


def unfinish(study):
    sql(study, "UPDATE meta SET value = '\"running\"' WHERE key = 'state'")


# Damage that only a resume meets (it loads the optimizer's state); the readers show what is left.
STATE_DAMAGE = {
    "state without its fields": (lambda s: (unfinish(s), sql(s, "UPDATE optimizer SET state = '{\"generation\": 1}'")),
                                 "the optimizer state does not load"),
    "state a list": (lambda s: (unfinish(s), sql(s, "UPDATE optimizer SET state = '[1, 2]'")),
                     "the optimizer state holds list '[1, 2]', not an optimizer's state"),
}
DAMAGE.update({
    "config not a table of tables": (lambda s: sql(s, "UPDATE meta SET value = '{\"study\": 5}' WHERE key = 'config'"),
                                     "the stored config does not load (study: expected a table, got 5)"),
    "config deleted": (lambda s: sql(s, "DELETE FROM meta WHERE key = 'config'"), "no stored config"),
    "a value that is text": (lambda s: sql(s, "UPDATE trials SET value = 'abc' WHERE number = 3"),
                             "trial 3: value holds 'abc', not a number"),
    "trials replaced": (lambda s: (sql(s, "DROP TABLE trials"),
                                   sql(s, "CREATE TABLE trials (number INTEGER PRIMARY KEY, status TEXT)")),
                        "the trials table lacks the column(s) generation, idx, params, unit and"),
    "meta state a number": (lambda s: sql(s, "UPDATE meta SET value = '7' WHERE key = 'state'"),
                            "meta state holds int 7, not text"),
})


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("command", ["status", "export", "report", "resume"])
def test_a_damaged_file_gets_a_one_line_diagnosis(finished, tmp_path, capsys, damage, command):
    study = copy_of(finished, tmp_path)
    make, message = DAMAGE[damage]
    make(study)
    assert main([command, str(study)]) == 3
    err = capsys.readouterr().err
    assert one_line(err) and message in err, err


@pytest.mark.parametrize("damage", STATE_DAMAGE)
def test_a_damaged_optimizer_state_stops_resume_in_one_line(finished, tmp_path, capsys, damage):
    study = copy_of(finished, tmp_path)
    make, message = STATE_DAMAGE[damage]
    make(study)
    for command in ("status", "export", "report"):  # they read the trials, not the state
        assert main([command, str(study)]) == 0
    capsys.readouterr()
    assert main(["resume", str(study)]) == 3
    err = capsys.readouterr().err
    assert one_line(err) and message in err, err


def test_readers_leave_no_wal_files_beside_a_finished_study(finished, tmp_path, capsys):
    study = copy_of(finished, tmp_path)
    for command in (["status"], ["export"], ["report"], ["report", "--format", "html", "-o", str(tmp_path / "r.html")]):
        assert main([*command, str(study)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert sorted(p.name for p in study.iterdir()) == ["driver.lock", "study.db", "trials"]


def sql_if_allowed(study, statement):
    """An edit SQLite itself refuses (a constraint) leaves that part undamaged."""
    try:
        sql(study, statement)
    except sqlite3.IntegrityError:
        pass


def damage_at_random(study, rng):
    """One random kind of damage, as a disk, a person or another program might do it."""
    db = study / "study.db"
    kind = int(rng.integers(6))
    if kind == 0:  # bytes flipped anywhere in the file
        data = bytearray(db.read_bytes())
        for at in rng.integers(len(data), size=int(rng.integers(1, 40))):
            data[at] ^= int(rng.integers(1, 256))
        db.write_bytes(bytes(data))
        return f"{kind}: bytes flipped"
    values = ["'abc'", "-1", "1e308", "NULL", "'{}'", "'['", "'[1, \"a\"]'", "x'00ff'", str(2 ** 62),
              "'{\"generation\": \"x\"}'", "'null'", "'\"\"'", "'[]'", "'{\"x0\": [1]}'", "0.5"]
    value = values[int(rng.integers(len(values)))]
    if kind == 1:  # a column of a trial
        with sqlite3.connect(db) as conn:
            columns = [r[1] for r in conn.execute("PRAGMA table_info(trials)")]
        conn.close()
        column = columns[int(rng.integers(len(columns)))]
        number = int(rng.integers(60))
        sql_if_allowed(study, f"UPDATE OR IGNORE trials SET {column} = {value} WHERE number = {number}")
        return f"{kind}: trial {number} {column} = {value}"
    if kind == 2:  # a meta value
        with sqlite3.connect(db) as conn:
            keys = [r[0] for r in conn.execute("SELECT key FROM meta")]
        conn.close()
        key = keys[int(rng.integers(len(keys)))]
        sql_if_allowed(study, f"UPDATE OR IGNORE meta SET value = {value} WHERE key = '{key}'")
        return f"{kind}: meta {key} = {value}"
    if kind == 3:  # the optimizer's state or a checkpoint
        table = ["optimizer", "checkpoints"][int(rng.integers(2))]
        sql_if_allowed(study, f"UPDATE OR IGNORE {table} SET state = {value}")
        unfinish(study)
        return f"{kind}: {table} state = {value}"
    if kind == 4:  # a table dropped or emptied
        table = ["meta", "trials", "optimizer", "checkpoints"][int(rng.integers(4))]
        statement = f"{['DROP TABLE', 'DELETE FROM'][int(rng.integers(2))]} {table}"
        sql(study, statement)
        return f"{kind}: {statement}"
    # a key of the stored config's [study] table changed
    key = ["algorithm", "population", "budget", "seed", "name", "direction", "fidelity", "objectives"][
        int(rng.integers(8))]
    sql_if_allowed(study, f"UPDATE meta SET value = json_set(value, '$.study.{key}', json({value if value != 'NULL' else 'null'})) "
               "WHERE key = 'config' AND json_valid(" + (value if value != "NULL" else "'null'") + ")")
    unfinish(study)
    return f"{kind}: config study.{key} = {value}"


def test_randomly_damaged_files_end_in_one_line(finished, tmp_path, capsys):
    """Whatever the damage, every command ends in 0, 2 or 3 with at most one line on stderr (a
    resume that ends with no completed trial exits 4, as for any study), within a time limit."""
    rng = np.random.default_rng(int(os.environ.get("DAMAGE_SEED", "27")))

    def too_long(signum, frame):
        raise TimeoutError("a command ran over 60 s on a damaged file")

    previous = signal.signal(signal.SIGALRM, too_long)
    codes = {0: 0, 2: 0, 3: 0, 4: 0}
    try:
        for case in range(36):
            study = copy_of(finished, tmp_path / f"case{case}")
            what = damage_at_random(study, rng)
            for command in ("status", "export", "report", "resume"):
                signal.alarm(60)
                try:
                    code = main([command, str(study)])
                finally:
                    signal.alarm(0)
                out, err = capsys.readouterr()
                shown = f"{what}; {command}: exit {code}: {err}"
                assert code in (0, 2, 3) or code == 4 and command == "resume", shown
                assert "Traceback" not in err and "internal error" not in err, shown
                assert code == 0 or one_line(err), shown
                codes[code] += 1
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert codes[0] >= 10 and codes[3] >= 20, codes  # the damage reaches both sides


def test_driver_lock_as_a_directory(finished, tmp_path, capsys):
    study = copy_of(finished, tmp_path)
    unfinish(study)
    (study / "driver.lock").unlink()
    (study / "driver.lock").mkdir()
    assert main(["resume", str(study)]) == 3
    err = capsys.readouterr().err
    assert one_line(err) and "driver.lock: a directory where the driver's lock file belongs" in err
    assert main(["status", str(study)]) == 0


@contextmanager
def tmpfs(path, size):
    """A real small file system of its own (root only)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): a real read-only or full "
                    "file system is needed")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path, options):
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@needs_root
def test_a_read_only_directory(finished, tmp_path, capsys):
    with tmpfs(tmp_path / "mnt", "16m") as mnt:
        study = mnt / "s"
        shutil.copytree(finished, study)
        unfinish(study)
        remount(mnt, "ro")
        assert main(["resume", str(study)]) == 3
        err = capsys.readouterr().err
        assert one_line(err) and "cannot write the study" in err, err
        assert main(["status", str(study)]) == 0 and main(["export", str(study)]) == 0
        out, err = capsys.readouterr()
        assert err == "" and "evaluations:  60 of 60" in out


@needs_root
def test_disk_full_stops_with_exit_3_and_resume_is_exact(tmp_path, subprocess_env):
    env = {**subprocess_env, "TOY_SLEEP": "0"}
    path = config(tmp_path, 600)
    reference = tmp_path / "reference"
    assert autodehypo(["run", str(path), "--dir", str(reference)], env).wait(timeout=300) == 0
    with tmpfs(tmp_path / "mnt", "1m") as mnt:
        study = mnt / "s"
        run = autodehypo(["run", str(path), "--dir", str(study)], env)
        code, err = run.wait(timeout=300), run.stderr.read()
        assert code == 3, err
        last = err.strip().splitlines()[-1]
        assert "Traceback" not in err and f"{study}: disk full" in last and "autodehypo resume" in last, err
        assert 0 < finished_count(study / "study.db") < 600
        remount(mnt, "size=64m")
        resume = autodehypo(["resume", str(study)], env)
        assert resume.wait(timeout=300) == 0, resume.stderr.read()
        compared = ("number", "generation", "idx", "status", "value", "told_value", "param_x0", "param_x1")
        assert [{k: r[k] for k in compared} for r in export_rows(study)] == \
            [{k: r[k] for k in compared} for r in export_rows(reference)]


@needs_root
def test_disk_full_while_creating_says_nothing_was_created(tmp_path, subprocess_env):
    with tmpfs(tmp_path / "mnt", "256k") as mnt:
        (mnt / "s").mkdir()
        filler = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)  # the file system full to the last block
        try:
            while True:
                os.write(filler, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(filler)
        run = autodehypo(["run", str(config(tmp_path, 6)), "--dir", str(mnt / "s")], subprocess_env)
        code, err = run.wait(timeout=120), run.stderr.read()
        assert code == 3 and one_line(err), err
        assert "disk full" in err and "nothing was created" in err and "resume" not in err, err
        assert list((mnt / "s").iterdir()) == []


# A study file written by autodehypo at schema version 1 (3f637b2), its driver SIGKILLed after 16
# of 40 trials (jde, population 4, toy_objectives:slow_sphere); data/study-v1/config.toml made it.
V1 = Path(__file__).parent / "data" / "study-v1"


def schema_version(study):
    with sqlite3.connect(f"file:{study / 'study.db'}?mode=ro", uri=True) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        rows = conn.execute("SELECT generation, summary IS NOT NULL, state IS NOT NULL FROM checkpoints "
                            "ORDER BY generation").fetchall() if version != "1" else None
    conn.close()
    return int(version), rows


def test_a_version_1_file_is_read_as_it_is(tmp_path, capsys):
    study = tmp_path / "s"
    study.mkdir()
    shutil.copy(V1 / "study.db", study)
    before = (study / "study.db").read_bytes()
    for command in (["status"], ["export"], ["report"], ["plot", "--kind", "adaptation", "-o", str(tmp_path / "a.png")]):
        assert main([*command, str(study)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "generation:   3 completed" in out and "evaluations:  14 of 40" in out
    assert (study / "study.db").read_bytes() == before  # readers do not migrate
    assert schema_version(study)[0] == 1


def test_resuming_a_version_1_file_migrates_it_and_ends_as_an_uninterrupted_run(tmp_path, subprocess_env):
    env = {**subprocess_env, "TOY_SLEEP": "0"}
    study, reference = tmp_path / "s", tmp_path / "reference"
    study.mkdir()
    shutil.copy(V1 / "study.db", study)
    resume = autodehypo(["resume", str(study)], env)
    assert resume.wait(timeout=300) == 0, resume.stderr.read()
    run = autodehypo(["run", str(V1 / "config.toml"), "--dir", str(reference)], env)
    assert run.wait(timeout=300) == 0, run.stderr.read()
    compared = ("number", "generation", "idx", "status", "value", "told_value", "param_x0", "param_x1")
    assert [{k: r[k] for k in compared} for r in export_rows(study)] == \
        [{k: r[k] for k in compared} for r in export_rows(reference)]
    version, checkpoints = schema_version(study)
    assert version == 2
    # The three generations of version 1 keep their states; the later ones hold summaries only.
    assert checkpoints[:3] == [(1, 0, 1), (2, 0, 1), (3, 0, 1)]
    assert checkpoints[3:] and all(row[1:] == (1, 0) for row in checkpoints[3:])
    assert schema_version(reference)[1] == [(g, 1, 0) for g in range(1, len(checkpoints) + 1)]
    assert main(["plot", str(study), "--kind", "adaptation", "-o", str(tmp_path / "a.png")]) == 0


def test_a_newer_schema_is_refused_in_one_line(finished, tmp_path, capsys):
    study = copy_of(finished, tmp_path)
    sql(study, "UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert main(["status", str(study)]) == 3
    err = capsys.readouterr().err
    assert one_line(err) and "schema version 3, this autodehypo reads 1 and 2" in err, err


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """A finished study of the default search, whose pre-screening history is kept in rows."""
    from autodehypo import Study
    from conftest import toy_config
    config = toy_config(evaluations=24, population=8)
    del config["study"]["algorithm"]  # the default: lshade with pre-screening
    directory = tmp_path_factory.mktemp("screened") / "s"
    Study.create(directory, config).run()
    return directory


@pytest.mark.parametrize("damage, message", [
    ("DELETE FROM history WHERE row >= 5", "the history holds (5, 4) values, the state needs"),
    ("UPDATE history SET data = x'00ff' WHERE row = 2", "the history's rows differ in length"),
])
def test_a_damaged_history_stops_resume_in_one_line(screened, tmp_path, capsys, damage, message):
    study = copy_of(screened, tmp_path)
    with sqlite3.connect(study / "study.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == 24
    conn.close()
    unfinish(study)
    sql(study, damage)
    assert main(["resume", str(study)]) == 3
    err = capsys.readouterr().err
    assert one_line(err) and message in err, err
