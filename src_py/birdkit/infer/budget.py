"""The inference time budget, kept while the real run goes: pace, projection, shedding, watchdog.

The pace is measured on the run's own files (seconds per audio minute with the plan in force,
spread over the worker processes), scaled from this machine's cores to Kaggle's 4, and projected
over the year's hidden test set (or this run's files, when they hold more audio). When the
projection passes ``max_budget_share`` of the budget, cost is shed in this order until the rest
fits, never below one model:

1. TTA views (down to 1);
2. members, the worst measured cost per ensemble weight first.

(SED chunks do not overlap in this suite, so there is no chunk overlap to shed.) Every decision is
printed with its figures and kept for ``budget.json`` in the run folder. The watchdog stops scoring
at ``deadline_minutes`` after the notebook process started (0 = 90% of the budget): files not
scored by then keep their fallback rows. ``strict_budget`` keeps the earlier refusal instead
(``birdkit.infer.projection.check_budget`` before scoring) and sheds nothing.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

KAGGLE_CORES = 4
DEADLINE_SHARE = 0.9        # the watchdog's default deadline: this share of the budget
PROBE_FILES = 2             # files scored with a plan before its pace is trusted


def process_started(clock=time.time) -> float:
    """When this process started (epoch seconds): the notebook kernel's start, so the deadline
    counts the cells before inference too. Off Linux: the first call."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return clock() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _FIRST_CALL.setdefault("t", clock())


_FIRST_CALL: dict = {}


@dataclass
class Decision:
    minute: float             # minutes since the notebook started
    files_done: int
    step: str                 # tta_views | members | member_failed | minimum | watchdog
    change: str
    projected_before: float   # projected minutes for the hidden test set
    projected_after: float

    def describe(self, target: float) -> str:
        return (f"[budget] minute {self.minute:.1f}, {self.files_done} file(s) done: {self.step}: {self.change} "
                f"(projected {self.projected_before:.1f} -> {self.projected_after:.1f} min, target {target:.3g})")


@dataclass
class _Pace:
    """What the files scored with the plan in force cost."""
    files: int = 0
    seconds: float = 0.0
    audio_minutes: float = 0.0
    member_seconds: dict = field(default_factory=dict)


class Budget:
    """The plan in force (``tta``, ``active`` members) and how it changes as the run goes."""

    def __init__(self, *, budget_minutes: float, share: float, audio_minutes: float, weights, tta,
                 cores_here: int, workers: int = 1, deadline_minutes: float = 0.0, strict: bool = False,
                 started: float | None = None, clock=time.time, probe_files: int = PROBE_FILES):
        self.budget, self.target = float(budget_minutes), share * budget_minutes
        self.audio_minutes, self.weights = audio_minutes, [float(w) for w in weights]
        self.tta, self.active = tta, list(range(len(self.weights)))
        self.cores_here, self.workers, self.strict, self.probe_files = cores_here, max(1, workers), strict, probe_files
        self.clock = clock
        self.started = process_started(clock) if started is None else started
        self.deadline_minutes = deadline_minutes or DEADLINE_SHARE * self.budget
        self.overhead_minutes = self.minute()
        self.pace, self.files_done = _Pace(), 0
        self.decisions: list[Decision] = []
        self.projections: list[dict] = []
        self.dropped: dict = {}
        self.stopped_at: int | None = None
        self.estimate: float | None = None   # the last projection (after shedding: its estimate)

    # ---- time ----
    def minute(self) -> float:
        return (self.clock() - self.started) / 60

    def begin(self) -> str:
        """Call when scoring starts: what came before (loading, compiling) is overhead."""
        self.overhead_minutes = self.minute()
        return (f"[budget] target {self.target:.3g} min of the {self.budget:g}-min budget for "
                f"{self.audio_minutes:g} min of test audio on Kaggle's {KAGGLE_CORES} cores"
                f"{' (strict: refuse, shed nothing)' if self.strict else ''}; {self.overhead_minutes:.1f} min "
                f"spent before scoring; the watchdog stops scoring at minute {self.deadline_minutes:.1f}")

    def seconds_left(self) -> float:
        """Until the deadline (at least 1 s, at most an hour: a wait that wakes to look again)."""
        return min(max(1.0, (self.deadline_minutes - self.minute()) * 60), 3600.0)

    @property
    def expired(self) -> bool:
        """The watchdog: past the deadline, no more files are scored."""
        if self.stopped_at is None and self.minute() >= self.deadline_minutes:
            self.stopped_at = self.files_done
            self._decide("watchdog", f"deadline minute {self.deadline_minutes:.1f} reached: files not scored "
                         "keep their fallback rows", self.projected(), self.projected())
        return self.stopped_at is not None

    # ---- pace and projection ----
    def plan(self) -> tuple:
        return self.tta.views, tuple(self.active)

    def record(self, scored) -> None:
        """Count a scored file; re-project once enough files ran with the plan in force."""
        self.files_done += 1
        if scored.error is not None or (scored.views, tuple(scored.active)) != self.plan():
            return
        p = self.pace
        p.files, p.seconds, p.audio_minutes = p.files + 1, p.seconds + scored.seconds, p.audio_minutes + (
            scored.audio_seconds / 60)
        for i, s in scored.member_seconds.items():
            p.member_seconds[i] = p.member_seconds.get(i, 0.0) + s
        if p.files >= self.probe_files:
            self._reproject()

    def projected(self, file_seconds_factor: float = 1.0) -> float:
        """Projected minutes for the hidden test set with the plan in force (times a factor on the
        per-file cost); the overhead so far if nothing is measured yet."""
        p = self.pace
        if not p.audio_minutes:
            return self.overhead_minutes
        seconds_per_audio_minute = p.seconds / self.workers / p.audio_minutes * file_seconds_factor
        return self.overhead_minutes + seconds_per_audio_minute * self.cores_here / KAGGLE_CORES * (
            self.audio_minutes / 60)

    def _reproject(self) -> None:
        before = self.estimate = self.projected()
        self.projections.append({"minute": round(self.minute(), 3), "files_done": self.files_done,
                                 "projected_minutes": round(before, 3), "views": self.tta.views,
                                 "members": list(self.active)})
        if before > self.target and not self.strict:
            self._shed(before)

    # ---- shedding ----
    def _shed(self, before: float) -> None:
        p = self.pace
        file_s = p.seconds / p.files
        member_s = {i: p.member_seconds.get(i, 0.0) / p.files for i in self.active}
        other_s = max(file_s - sum(member_s.values()), 0.0)
        views, keep = self.tta.views, list(self.active)

        def factor(v, members):   # estimated per-file cost relative to now
            return (other_s + sum(member_s[i] for i in members) * v / self.tta.views) / file_s

        changed = False
        while views > 1 and self.projected(factor(views, keep)) > self.target:
            views -= 1
        if views != self.tta.views:
            self._decide("tta_views", f"{self.tta.views} -> {views} view(s)", before,
                         self.projected(factor(views, keep)))
            changed = True
        order = sorted(keep, key=lambda i: member_s[i] / max(self.weights[i], 1e-9), reverse=True)
        for i in order:
            if len(keep) == 1 or self.projected(factor(views, keep)) <= self.target:
                break
            after = [j for j in keep if j != i]
            self._decide("members", f"model {i} left out ({member_s[i]:.2f} s per file at weight "
                         f"{self.weights[i]:g}); {len(after)} left: {after}",
                         self.projected(factor(views, keep)), self.projected(factor(views, after)))
            keep, changed = after, True
        estimate = self.estimate = self.projected(factor(views, keep))
        if estimate > self.target and not any(d.step == "minimum" for d in self.decisions):
            self._decide("minimum", f"{views} view(s), {len(keep)} model(s) is the least this run sheds to; the "
                         f"watchdog stops scoring at minute {self.deadline_minutes:.1f}", estimate, estimate)
        if changed:
            self.tta, self.active, self.pace = self.tta._replace(views=views), keep, _Pace()

    def drop_member(self, i: int, error: str) -> bool:
        """A member that raised: left out (with the figures) unless it is the last one."""
        if i not in self.active or len(self.active) == 1:
            return False
        self.active = [j for j in self.active if j != i]
        self.dropped[i] = error
        self._decide("member_failed", f"model {i} raised ({error}); {len(self.active)} left: {self.active}",
                     self.projected(), self.projected())
        self.pace = _Pace()
        return True

    def _decide(self, step, change, before, after) -> None:
        d = Decision(round(self.minute(), 3), self.files_done, step, change, round(before, 3), round(after, 3))
        self.decisions.append(d)
        print(d.describe(self.target), flush=True)

    # ---- report ----
    def summary(self) -> dict:
        return {"budget_minutes": self.budget, "target_minutes": self.target, "deadline_minute": self.deadline_minutes,
                "test_audio_minutes": self.audio_minutes, "cores_here": self.cores_here, "workers": self.workers,
                "strict": self.strict, "overhead_minutes": round(self.overhead_minutes, 3),
                "final": {"views": self.tta.views, "members": list(self.active), "files_done": self.files_done,
                          "stopped_by_watchdog_after": self.stopped_at},
                "member_errors": {str(k): v for k, v in self.dropped.items()},
                "decisions": [asdict(d) for d in self.decisions], "projections": self.projections}

    def describe(self) -> str:
        shed = [d for d in self.decisions if d.step in ("tta_views", "members", "member_failed")]
        left = f"{self.tta.views} TTA view(s), {len(self.active)} of {len(self.weights)} model(s) {self.active}"
        last = "none (too few files scored)" if self.estimate is None else f"{self.estimate:.1f} min"
        return (f"[budget] {len(shed)} change(s) shed; left: {left}; last projection for the hidden test set "
                f"{last} against the {self.target:.3g}-min target"
                + (f"; the watchdog stopped scoring after {self.stopped_at} file(s)" if self.stopped_at is not None
                   else ""))

    def write(self, run_dir) -> Path:
        path = Path(run_dir) / "budget.json"
        path.write_text(json.dumps(self.summary(), indent=1))
        return path
