"""What metering costs per trial (start, one poll, stop), for each meter available here.

    python benchmarks/energy.py [--trials 2000]

The estimate is always available. RAPL and NVML are timed where this machine
has them; RAPL is also timed on a powercap tree laid out like the kernel's in
a temporary directory (same file reads, page-cache speed instead of MSR reads:
a lower bound), so the figure exists on machines without RAPL.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from autodehypo.energy import CpuTimeEstimate, MeterUnavailable, NvmlMeter, RaplMeter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def per_trial_ms(meter, trials: int) -> float:
    started = time.perf_counter()
    for _ in range(trials):
        token = meter.start()
        meter.poll()
        meter.stop(token)
    return (time.perf_counter() - started) / trials * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    estimate = CpuTimeEstimate()
    started = time.perf_counter()
    for i in range(args.trials):
        estimate.reading(float(i))
    print(f"estimate              {(time.perf_counter() - started) / args.trials * 1e3:8.4f} ms/trial")
    for name, factory in (("rapl", RaplMeter), ("nvml", NvmlMeter)):
        try:
            meter = factory()
        except MeterUnavailable as exc:
            print(f"{name:<21} unavailable here: {exc}")
            continue
        print(f"{name:<21} {per_trial_ms(meter, args.trials):8.4f} ms/trial")
    from test_energy import powercap_tree  # the kernel's layout, as the tests build it
    with tempfile.TemporaryDirectory() as tmp:
        meter = RaplMeter(powercap_tree(Path(tmp)))
        print(f"rapl (kernel-layout tree in {tmp}) {per_trial_ms(meter, args.trials):8.4f} ms/trial")


if __name__ == "__main__":
    main()
