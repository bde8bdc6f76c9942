"""Where a workflow run's time went: job-seconds by rule, read from Snakemake's own log.

Prints, for each rule, the number of jobs and their mean, total and longest duration; then the
run's span (first to last timestamp), the total job-seconds, how busy the cores were
(job-seconds / (span x cores)), and, from the training logs, how much of the training jobs' time
was the epochs themselves (the rest is start-up and writing checkpoints).

    .venv/bin/python benchmarks/run_times.py [SNAKEMAKE_LOG] [--logs logs]

SNAKEMAKE_LOG defaults to the newest file in .snakemake/log that records a finished job (so not
that of a later `--report` or dry run). Snakemake stamps its log to the second, so a single short
job's duration is good to about a second; totals over many jobs are what this is for. Only the standard library is used: it runs anywhere the log is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections import defaultdict
from pathlib import Path

STAMP = re.compile(r"\[(\w{3} \w{3}\s+\d+ [\d:]+ \d{4})\]")
RULE = re.compile(r"(?:local)?rule (\w+):")
JOBID = re.compile(r"\s+jobid: (\d+)")
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")
CORES = re.compile(r"Provided cores: (\d+)")
EPOCH = re.compile(r"\] epoch \d+/\d+ .*? ([\d.]+)s$", re.MULTILINE)


def job_durations(text: str) -> tuple[dict[str, list[float]], float, int | None]:
    """({rule: [seconds of each finished job]}, the log's span in seconds, provided cores)."""
    stamp = first = last = None
    pending: tuple[str, dt.datetime] | None = None
    started: dict[str, tuple[str, dt.datetime]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    cores = None
    for line in text.splitlines():
        if m := STAMP.match(line):
            stamp = dt.datetime.strptime(re.sub(" +", " ", m.group(1)), "%a %b %d %H:%M:%S %Y")
            first = first or stamp
            last = stamp
        elif m := CORES.match(line):
            cores = int(m.group(1))
        elif (m := RULE.match(line)) and stamp is not None:
            pending = (m.group(1), stamp)
        elif (m := JOBID.match(line)) and pending is not None:
            started[m.group(1)] = pending
            pending = None
        elif (m := FINISHED.match(line)) and m.group(1) in started:
            rule, start = started.pop(m.group(1))
            durations[rule].append((stamp - start).total_seconds())
    span = (last - first).total_seconds() if first else 0.0
    return dict(durations), span, cores


def epoch_seconds(logs: Path) -> float:
    """The seconds the training logs report for their epochs, summed over every training log."""
    return sum(
        float(s) for log in logs.glob("train/**/*.log") for s in EPOCH.findall(log.read_text())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", nargs="?", type=Path, help="a .snakemake/log/*.snakemake.log")
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="the workflow's logs/")
    args = parser.parse_args(argv)
    if args.log is None:  # the newest log of a run that ran jobs (not of a dry run or `--report`)
        logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"), reverse=True)
        if not logs:
            parser.error("no .snakemake/log/*.snakemake.log here; name the log to read")
    elif not args.log.is_file():
        parser.error(f"no such log: {args.log}")
    else:
        logs = [args.log]
    for log in logs:
        durations, span, cores = job_durations(log.read_text())
        if durations:
            break
    else:
        parser.error(f"{logs[0]} records no finished job")
    print(f"{log}")
    print(f"{'rule':24s} {'jobs':>5s} {'mean s':>7s} {'total s':>8s} {'max s':>6s}")
    total = 0.0
    for rule, times in sorted(durations.items(), key=lambda kv: -sum(kv[1])):
        total += sum(times)
        print(
            f"{rule:24s} {len(times):5d} {sum(times) / len(times):7.1f} "
            f"{sum(times):8.0f} {max(times):6.0f}"
        )
    jobs = sum(len(t) for t in durations.values())
    print(f"{jobs} jobs, {total:.0f} job-seconds in a span of {span:.0f} s", end="")
    if cores:
        print(f" on {cores} cores: the cores were busy {total / (span * cores):.0%} of it")
    else:
        print()
    train = sum(durations.get("train", []))
    epochs = epoch_seconds(args.logs)
    if train and epochs:
        print(
            f"training: {train:.0f} job-seconds, of which the epochs {epochs:.0f} s "
            f"({epochs / train:.0%}); the rest is start-up and checkpoint writing"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
