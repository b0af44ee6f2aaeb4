"""Small deterministic objectives that the tests run in real trial processes."""

import ctypes
import math
import os
import time


def sphere(params):
    return sum((v - 0.3) ** 2 for k, v in sorted(params.items()) if isinstance(v, float))


def slow_sphere(params):
    # Long enough that a SIGKILL lands while trials run.
    time.sleep(float(os.environ.get("TOY_SLEEP", "0.05")))
    return {"objective": sphere(params), "x_sum": sum(v for v in params.values() if isinstance(v, float))}


def failing_sphere(params):
    """Fails in a different way in each corner of the space; fine elsewhere."""
    x = params["x"]
    if x < 0.1:
        raise ValueError("x too small")
    if x > 0.95:
        return float("nan")
    return sphere(params)


def misbehave(params):
    mode = params["mode"]
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "nan":
        return float("nan")
    if mode == "segfault":
        ctypes.string_at(0)
    if mode == "exit":
        os._exit(3)
    if mode == "sleep":
        time.sleep(60)
    if mode == "nokey":
        return {"loss": 1.0}
    if mode == "text":
        return "hello"
    if mode == "print":
        print("to the log")
        return {"objective": 2.5, "note": "fine"}
    return 1.0


def burn(params):
    """Spends about `seconds` of CPU time."""
    end = time.process_time() + params.get("seconds", 0.3)
    x = 0.0
    while time.process_time() < end:
        x += math.sqrt(x + 1.0)
    return x * 0.0 + params.get("x", 0.0)


def batch_quadratic(params):
    """A value and a CPU cost that both depend on a batch size, fixed or searched."""
    bs = params["batch_size"]
    end = time.process_time() + 0.002 * bs
    while time.process_time() < end:
        pass
    return {"objective": (params["x"] - 0.3) ** 2 + 1.0 / bs, "batch_size_seen": bs}


def sleep_long(params):
    time.sleep(300)
    return 0.0


def metered_sleep(params):
    """Reads the node's pm_counters energy (Slurm's fake HPE/Cray counter) around a busy wait."""
    path = "/sys/cray/pm_counters/energy"
    with open(path) as fh:
        before = float(fh.read().split()[0])
    end = time.time() + params.get("seconds", 12.0)
    x = 0.0
    while time.time() < end:
        x += math.sqrt(x + 1.0)
    with open(path) as fh:
        after = float(fh.read().split()[0])
    return {"objective": params.get("x", 0.0), "pm_before": before, "pm_after": after}


def epochs_with_progress(params):
    """A 'training' of three epochs that reports each one, as a long trial would; with
    ``TOY_HOLD_UNTIL`` set, each epoch after its report waits for that file to exist."""
    from autodehypo import report_progress
    epochs = 3
    for epoch in range(1, epochs + 1):
        end = time.monotonic() + float(os.environ.get("TOY_EPOCH_SECONDS", "0.6"))
        x = 0.0
        while time.monotonic() < end:  # busy, so that CPU time (and the estimate) grows
            x += math.sqrt(x + 1.0)
        report_progress(epoch=epoch, epochs=epochs, loss=1.0 / epoch, val_error=params["x"] / epoch,
                        images_per_s=1000.0, note="kept", bad=float("nan"))
        _hold(os.environ.get("TOY_HOLD_UNTIL"))
    return params["x"] / epochs


def _hold(gate, limit_s=300.0):
    """Wait until the file ``gate`` exists: a test that looks at running trials decides when
    they may go on, instead of racing them on a loaded machine."""
    end = time.monotonic() + limit_s
    while gate and not os.path.exists(gate) and time.monotonic() < end:
        time.sleep(0.05)


def counted_grid(params):
    """A deterministic objective on a small grid that writes down every time it really runs."""
    time.sleep(float(os.environ.get("TOY_SLEEP", "0")))
    with open(os.environ["TOY_RUNS_FILE"], "a") as f:
        f.write(f"{params['a']} {params['b']}\n")
    return (params["a"] - 2) ** 2 + (params["b"] - 1) ** 2


def counted_grid_str(params):
    """counted_grid with an unordered second parameter."""
    return counted_grid({"a": params["a"], "b": {"x": 0, "y": 1, "z": 2}[params["b"]]})


def uneven_sleep(params):
    """Trials of unequal length (0.02 to 0.3 s, set by the point), a failure corner and a hang."""
    x0, x1 = params["x0"], params["x1"]
    if x0 > 0.93:
        time.sleep(60)  # ended by the executor's timeout
    if x1 < 0.05:
        raise ValueError("x1 too small")
    time.sleep(float(os.environ.get("TOY_SLEEP_SCALE", "1")) * (0.02 + 0.28 * ((x0 * 7.3 + x1 * 3.1) % 1.0)))
    return sphere(params)


def fidelity_sphere(params):
    """A value that improves with the epochs it is given, and a short sleep per epoch trained."""
    from autodehypo.continuation import fidelity_context
    context = fidelity_context() or {}
    below = context.get("continues_fidelity") or 0
    time.sleep(float(os.environ.get("TOY_SLEEP", "0.01")) * (params["epochs"] - below))
    return {"objective": sphere(params) + 1.0 / params["epochs"], "continued_from": below}


def fidelity_sphere_failing_below_zero(params):
    if params["x0"] < 0:
        raise ValueError("x0 below zero")
    return fidelity_sphere(params)


def zdt1(params):
    """ZDT1 over the parameters x0, x1, ...: f1 is the value, f2 a metric (both minimized)."""
    xs = [params[k] for k in sorted(params) if k.startswith("x")]
    f1 = xs[0]
    g = 1.0 + 9.0 * sum(xs[1:]) / max(1, len(xs) - 1)
    return {"objective": f1, "f2": g * (1.0 - math.sqrt(f1 / g))}


def dtlz2(params):
    """DTLZ2 with three objectives over x0, x1, ...: x0 and x1 place a point on the sphere's
    octant, the rest push it out (objective, f2 and f3, all minimized)."""
    xs = [params[k] for k in sorted(params) if k.startswith("x")]
    r = 1.0 + sum((x - 0.5) ** 2 for x in xs[2:])
    a, b = xs[0] * math.pi / 2, xs[1] * math.pi / 2
    return {"objective": r * math.cos(a) * math.cos(b), "f2": r * math.cos(a) * math.sin(b), "f3": r * math.sin(a)}


def slow_zdt1(params):
    time.sleep(float(os.environ.get("TOY_SLEEP", "0.05")))
    return zdt1(params)


def zdt1_failing(params):
    """ZDT1 that fails where x0 < 0.2 (raises) and leaves out f2 where x0 > 0.9."""
    if params["x0"] < 0.2:
        raise ValueError("x0 too small")
    result = zdt1(params)
    if params["x0"] > 0.9:
        del result["f2"]
    return result


def grid_two(params):
    """Two objectives on a small grid, opposed: most asks repeat an earlier configuration."""
    a, b = params["a"], params["b"]
    return {"objective": (a - 1) ** 2 + b, "cost": 3 - a + 0.5 * b}


def gpu_sphere(params):
    """The GPUs a trial was given, and when it ran, beside a sphere value (for the GPU pool tests:
    CUDA_VISIBLE_DEVICES is what a CUDA program would see; no GPU is touched)."""
    start = time.time()
    time.sleep(0.3)
    return {"objective": sum(float(v) ** 2 for v in params.values()),
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}


def reported_epochs(params):
    """Three quick epochs, each reported; fails below x = 0.15, after its first epoch."""
    from autodehypo import report_progress
    for epoch in range(1, 4):
        time.sleep(float(os.environ.get("TOY_EPOCH_SECONDS", "0.02")))
        report_progress(epoch=epoch, epochs=3, loss=1.0 / epoch, val_error=params["x"] / epoch)
        if params["x"] < 0.15:
            raise ValueError("diverged")
    return {"objective": params["x"] / 3, "accuracy": 1.0 - params["x"] / 3}
