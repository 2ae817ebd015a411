"""``make submit``: submit a pushed kernel version to the competition, wait for its score, record it.

    python -m birdkit_tools.kaggle.push submit [--staging DIR] [--params params/kaggle.yaml]
        [--kernel infer|birdkit-infer|owner/slug] [--version N] [--message M] [--submit-wait S] [--dry-run]

runs ``kaggle competitions submit -c <competition> -f <output file> -k <owner/slug> -v <version>
-m <message> --wait [S]``: the competition is the params file's ``competition`` (what ``make push``
writes into the kernels' ``competition_sources``), the kernel by default the inference kernel
(notebook ``70_inference``), the version by default the last one ``make push`` recorded for it in
``<staging>/pushes.jsonl`` (kaggle 2.2.5 prints a kernel's version only when it is pushed:
``kernels status`` and ``kernels list`` do not show it). The public score, or why there is none,
is printed and one JSON line (time, competition, kernel, version, status, public_score, message,
ref, error) is appended to ``<staging>/submissions.jsonl``, beside the manifest and the push record.

What kaggle 2.2.5 prints (``kaggle/api/kaggle_api_extended.py``: ``competition_submit_cli``,
``_poll_submission``; ``kaggle/cli.py``: ``main``), which this module reads:

* ``Submission ref: <n>`` once the submission exists, then ``<k> submissions remaining today.``;
* while waiting, ``Submission status: PENDING...`` (``SubmissionStatus``: PENDING, COMPLETE, ERROR);
* scored: ``Submission scored. Public score: <score>`` (``(not published)`` when Kaggle shows
  none), then the server's message (``Successfully submitted to ...``), exit status 0;
* failed to score: ``Submission <n> failed to score.`` / ``  Error: <error_description>`` on
  stderr (e.g. ``Notebook Threw Exception``, ``Submission Scoring Error``), exit status 1;
* timed out: ``Timed out after <s>s waiting for submission <n> to finish scoring.`` ... exit 1;
* any other error (404, 401, a missing argument): a message on stderr, exit 1; older CLIs
  printed some errors and exited 0, so the output is read whatever the exit status.

Where the output has none of these (a CLI that words them differently), the submission counts
as failed, with the CLI's last lines as the reason: the score is never guessed.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from birdkit import __version__
from birdkit.config import Config

from .push import (
    MANIFEST,
    PUSHES,
    PushError,
    append_record,
    check_owner,
    error_lines,
    kaggle_executable,
    last_pushed_version,
    read_manifest,
    redact,
    show,
    utc_now,
)
from .stage import KERNEL_METADATA, kernel_params, kernel_ref, load_settings

SUBMISSIONS = "submissions.jsonl"
INFERENCE_NOTEBOOK = "70_inference"
REF = re.compile(r"Submission ref:\s*(\d+)")
STATUS = re.compile(r"Submission status:\s*(\w+)")
SCORED = re.compile(r"Public score:\s*(.*?)\s*$", re.M)
FAILED = re.compile(r"failed to score\.?[ \t]*(?:\n\s*Error:[ \t]*)?(.*)", re.S)
TIMED_OUT = re.compile(r"^.*Timed out after .*$", re.M)
NOT_PUBLISHED = "(not published)"


# ---- which kernel, version and competition ----

def staged_kernels(settings, staging) -> list[dict]:
    """The staged manifest's kernels (what ``make push`` sent), else those kernel-metadata.json names."""
    if (Path(staging) / MANIFEST).is_file():
        return read_manifest(staging)["kernels"]
    return [{"key": key, "id": kernel_ref(settings, key)} for key in settings["kernels"]]


def inference_key(settings) -> str:
    keys = [k for k, e in settings["kernels"].items() if e["notebook"] == INFERENCE_NOTEBOOK]
    keys = [k for k in settings["default_kernels"] if k in keys] or keys
    if not keys:
        raise PushError(f"no kernel of {settings['settings_path']} runs {INFERENCE_NOTEBOOK}: pass KERNEL=...")
    return keys[0]


def choose_kernel(settings, staging, name: str) -> dict:
    """``name`` (a key, a slug or owner/slug; "" = the inference kernel) as {key, id[, folder]}."""
    kernels = staged_kernels(settings, staging)
    name = name.strip() or inference_key(settings)
    for kernel in kernels:
        if name in (kernel["key"], kernel["id"], kernel["id"].split("/")[-1]):
            return kernel
    if name.count("/") == 1:  # a kernel this repository did not stage: submitted as named
        return {"key": None, "id": name}
    raise PushError(f"unknown kernel {name!r}; staged: {[k['key'] for k in kernels]} (or pass owner/slug)")


def competition_and_file(root, params_file, settings, key) -> tuple[str, str]:
    """The params file's competition and the name of the submission file the kernel writes."""
    entry = settings["kernels"].get(key, {}) if key else {}
    config = Config.from_dict(kernel_params(Path(root), params_file, entry))
    return config.competition, Path(config.submission_path).name or "submission.csv"


def check_staged_competition(kernel: dict, competition: str, params_file) -> None:
    """The staged kernel must attach the competition submitted to (pushed with other params: stop)."""
    meta = Path(kernel.get("folder", "")) / KERNEL_METADATA
    if not kernel.get("folder") or not meta.is_file():
        return
    sources = json.loads(meta.read_text()).get("competition_sources", [])
    if sources and competition not in sources:
        raise PushError(f"{kernel['id']} was staged for {sources}, but {params_file} names {competition!r}: "
                        f"pass the KAGGLE_PARAMS it was pushed with")


def choose_version(staging, kernel_id: str, version: str, dry_run: bool) -> str:
    if version.strip():
        if not version.strip().isdigit():
            raise PushError(f"VERSION={version!r}: a kernel version is a number (its page on Kaggle lists them)")
        return version.strip()
    last = last_pushed_version(staging, kernel_id)
    if last is not None:
        return str(last)
    message = (f"no version of {kernel_id} recorded in {Path(staging) / PUSHES} (`make push` records what "
               "`kaggle kernels push` reports): pass VERSION=N (the kernel's page on Kaggle lists its versions)")
    if not dry_run:
        raise PushError(message)
    print(f"note: {message}", flush=True)
    return "<version>"


# ---- running the CLI and reading what it printed ----

def kaggle_live(args) -> tuple[int, str]:
    """``kaggle *args`` with its output shown as it comes (a wait lasts minutes); (exit status, output)."""
    show(args)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the CLI's polling lines arrive as printed
    proc = subprocess.Popen([kaggle_executable(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines = []
    try:
        for line in proc.stdout:
            line = redact(line)
            lines.append(line)
            print("  " + line.rstrip("\n"), flush=True)
        rc = proc.wait()
    except KeyboardInterrupt:  # the CLI stops waiting too; the submission goes on scoring on Kaggle
        rest = redact(proc.communicate()[0] or "")
        if rest.strip():
            print("  " + rest.strip().replace("\n", "\n  "), flush=True)
        lines += [rest, "\nInterrupted: stopped waiting\n"]
        rc = 130
    return rc, "".join(lines)


def read_outcome(rc: int, text: str) -> dict:
    """Status (COMPLETE, ERROR, TIMEOUT, INTERRUPTED, FAILED), public score, ref and error from the output."""
    refs = REF.findall(text)
    outcome = {"ref": int(refs[-1]) if refs else None, "public_score": None, "error": ""}
    failed, timed_out, scored = FAILED.search(text), TIMED_OUT.search(text), SCORED.findall(text)
    statuses = [s.upper() for s in STATUS.findall(text)]
    if timed_out:
        return {**outcome, "status": "TIMEOUT", "error": timed_out.group(0).strip()}
    if failed or statuses[-1:] == ["ERROR"]:
        reason = failed.group(1) if failed else ""
        lines = [line.strip() for line in reason.splitlines() if line.strip()]
        return {**outcome, "status": "ERROR", "error": "; ".join(lines) or "failed to score (no reason given)"}
    if rc == 130 and "Interrupted" in text:
        return {**outcome, "status": "INTERRUPTED", "error": "stopped waiting (Ctrl-C); the submission goes on"}
    if scored and rc == 0:
        score = scored[-1]
        return {**outcome, "status": "COMPLETE", "public_score": None if score in ("", NOT_PUBLISHED) else
                _number(score)}
    detail = "; ".join(error_lines(text)) or " / ".join(text.strip().splitlines()[-3:]) or "no output"
    if rc == 0 and not error_lines(text):
        detail = f"no public score in the kaggle output (exit status 0): {detail}"
    return {**outcome, "status": "FAILED", "error": f"{detail} (kaggle exit status {rc})"}


def _number(score: str):
    try:
        return float(score)
    except ValueError:  # recorded as printed
        return score


# ---- make submit ----

def submit(args) -> dict:
    """Submit, wait, print the public score or the error, record it; a submission without a score fails."""
    settings = load_settings(args.root, args.metadata)
    check_owner(settings["owner"], args.dry_run)
    kernel = choose_kernel(settings, args.staging, args.kernel)
    competition, output_file = competition_and_file(args.root, args.params, settings, kernel["key"])
    check_staged_competition(kernel, competition, args.params)
    version = choose_version(args.staging, kernel["id"], args.version, args.dry_run)
    message = args.message.strip() or f"birdkit {__version__}: {kernel['id']} version {version}"
    command = ["competitions", "submit", "-c", competition, "-f", output_file, "-k", kernel["id"], "-v", version,
               "-m", message, "--wait", *([str(args.submit_wait)] if args.submit_wait > 0 else [])]
    if args.dry_run:
        show(command)
        print(f"dry run, nothing sent; the record would go to {Path(args.staging) / SUBMISSIONS}")
        return {}
    rc, text = kaggle_live(command)
    outcome = read_outcome(rc, text)
    record = {"time": utc_now(), "competition": competition, "kernel": kernel["id"], "version": int(version),
              "status": outcome["status"], "public_score": outcome["public_score"], "message": message,
              "ref": outcome["ref"], "error": outcome["error"]}
    path = append_record(Path(args.staging) / SUBMISSIONS, record)
    what = f"{kernel['id']} version {version} on {competition}" + (f" (submission {record['ref']})"
                                                                    if record["ref"] else "")
    if record["status"] == "COMPLETE":
        score = record["public_score"]
        print(f"public score {score if score is not None else 'not published'}: {what}")
        print(f"recorded in {path}")
        return record
    print(f"recorded in {path}")
    later = f"; see its score later with: kaggle competitions submission {record['ref']}" if record["ref"] else ""
    if record["status"] == "ERROR":
        raise PushError(f"{what} failed to score: {record['error']}")
    if record["status"] in ("TIMEOUT", "INTERRUPTED"):
        raise PushError(f"no score yet for {what}: {record['error'].rstrip('.')}{later}")
    raise PushError(f"submitting {what} failed: {record['error']}")
