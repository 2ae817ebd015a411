"""``make push`` without network: a dry run, and the push path against a stand-in ``kaggle``."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import birdkit
from birdkit_tools.kaggle.push import credential_warnings, record_push
from birdkit_tools.kaggle.stage import (
    MetadataError,
    kaggle_username,
    validate_dataset_metadata,
    validate_kernel_metadata,
)
from birdkit_tools.kaggle.submit import read_outcome
from birdkit_tools.nbsync import leaked_state

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sekrit-value-123"
STANDIN = '''#!{python}
"""Stand-in for the kaggle CLI: records its arguments and the kernel folders it is pointed at."""
import json, os, shutil, sys
from pathlib import Path

args, log = sys.argv[1:], Path(os.environ["STANDIN_LOG"])
with log.open("a") as f:
    f.write(json.dumps(args) + "\\n")
mode = os.environ.get("STANDIN_MODE", "ok")
submit = os.environ.get("STANDIN_SUBMIT", "scored")
REF = "51234567"
if mode == "forbidden":
    print("403 - Forbidden")
    sys.exit(0)
if args[:2] == ["datasets", "version"] and mode == "missing":
    print("404 Client Error: Not Found for url: https://www.kaggle.com/api/v1/x", file=sys.stderr)
    sys.exit(1)
if args[:2] in (["datasets", "version"], ["datasets", "create"]):
    print("Dataset version is being created. Please check progress at https://www.kaggle.com/datasets/x")
elif args[:2] == ["datasets", "status"]:
    print("ready")
elif args[:2] == ["kernels", "push"]:
    folder = Path(args[args.index("-p") + 1])
    meta = json.loads((folder / "kernel-metadata.json").read_text())
    keep = log.parent / "pushed" / meta["id"].split("/")[1]
    shutil.copytree(folder, keep, dirs_exist_ok=True)
    version = sum(json.loads(line)[:2] == ["kernels", "push"] and json.loads(line)[-1] == args[-1]
                  for line in log.read_text().splitlines())  # this push is logged already
    print("Kernel version %d successfully pushed.  Please check progress at "
          "https://www.kaggle.com/code/%s" % (version, meta["id"]))
elif args[:2] == ["competitions", "submit"]:
    # what kaggle 2.2.5 prints (competition_submit_cli, _poll_submission, cli.main)
    print("Submission ref: " + REF)
    print("4 submissions remaining today.")
    print("Submission status: PENDING...")
    print("Submission status: PENDING...")
    if submit == "scored":
        print("Submission scored. Public score: 0.871")
        print("Successfully submitted to BirdCLEF+ 2025", end="")
    elif submit == "not-published":
        print("Submission scored. Public score: (not published)")
        print("Successfully submitted to BirdCLEF+ 2025", end="")
    elif submit.startswith("scoring-error"):  # 2.2.5 exits 1; "-exit0": a CLI that prints it and exits 0
        reason = "Notebook Threw Exception" if submit == "scoring-error" else "Submission Scoring Error"
        print("Submission %s failed to score.\\n  Error: %s" % (REF, reason), file=sys.stderr)
        sys.exit(0 if submit.endswith("exit0") else 1)
    elif submit == "timeout":
        print("Timed out after 60s waiting for submission %s to finish scoring.\\nSubmission ref: %s\\n"
              "Check status with: kaggle competitions submission %s" % (REF, REF, REF), file=sys.stderr)
        sys.exit(1)
elif args[:2] == ["kernels", "status"]:
    print(args[2] + ' has status "KernelWorkerStatus.COMPLETE"')
elif args[:2] == ["kernels", "output"]:
    print("Output file downloaded to " + args[args.index("-p") + 1] + "/submission.csv")
else:
    print("stand-in: unexpected arguments", args, file=sys.stderr)
    sys.exit(2)
'''


@pytest.fixture
def env(tmp_path):
    """No credentials at all: HOME and KAGGLE_CONFIG_DIR point at empty temporary folders."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    standin = bin_dir / "kaggle"
    standin.write_text(STANDIN.format(python=sys.executable))
    standin.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    return {**base, "PATH": f"{bin_dir}{os.pathsep}{base['PATH']}", "HOME": str(tmp_path / "home"),
            "KAGGLE_CONFIG_DIR": str(tmp_path / "empty"), "STANDIN_LOG": str(tmp_path / "calls.jsonl")}


def make(target, env, tmp_path, *extra):
    """``make <target>`` in the repository, staging into tmp_path; venv is taken as built. make runs
    the development venv's Python: a Kaggle leg's PYTHONPATH (another Python's numpy) is not for it."""
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    proc = subprocess.run(["make", "-C", str(ROOT), "-o", ".venv/.installed", target,
                           f"STAGING={tmp_path / 'staging'}", *extra],
                          env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def calls(tmp_path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def parameters_cell(nb) -> str:
    return next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))


@pytest.mark.slow
def test_dry_run_stages_every_kernel_without_credentials(env, tmp_path):
    rc, out = make("push", env, tmp_path, "DRY_RUN=1")
    assert rc == 0, out
    staging = tmp_path / "staging"
    manifest = json.loads((staging / "manifest.json").read_text())
    assert [k["key"] for k in manifest["kernels"]] == ["eda", "spectrograms", "embeddings", "dataset-check", "train",
                                                       "selftrain", "selftrain-r1", "selftrain-r2", "infer"]
    sources = {k["key"]: k["kernel_sources"] for k in manifest["kernels"]}
    assert sources["selftrain"][0].endswith("/birdkit-train") and sources["selftrain-r1"][0].endswith("/birdkit-train")
    assert sources["selftrain-r2"][0].endswith("/birdkit-selftrain-r1")   # one kernel per round, chained
    for kernel in manifest["kernels"]:
        folder = Path(kernel["folder"])
        meta = json.loads((folder / "kernel-metadata.json").read_text())
        validate_kernel_metadata(meta, folder)
        nb = nbformat.read(folder / meta["code_file"], as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3" and leaked_state(folder / meta["code_file"]) == []
        assert 'model_name = "efficientnet_b3"' in parameters_cell(nb)
        assert f"$ kaggle kernels push -p {folder}" in out or kernel["key"] not in ("train", "infer")
    code = staging / "code"
    validate_dataset_metadata(json.loads((code / "dataset-metadata.json").read_text()), code)
    assert (code / "birdkit" / "__init__.py").is_file() and not list(code.rglob("__pycache__"))
    shipped = {p.relative_to(code).as_posix() for p in code.rglob("*.py")}
    assert shipped and all(p.startswith("birdkit/") for p in shipped)           # only the core package
    assert not any(name in p for p in shipped for name in ("birdkit_tools", "kaggle", "bench", "demo", "runner"))
    assert (staging / "wheels" / "dataset-metadata.json").is_file()
    assert f"$ kaggle datasets version -p {code} -m" in out and "--dir-mode zip" in out
    assert f"$ kaggle datasets create -p {code} --dir-mode zip" in out
    assert out.index("kernels/birdkit-train") < out.index("kernels/birdkit-infer")
    assert "https://www.kaggle.com/code/your-kaggle-username/birdkit-infer" in out
    train = json.loads((staging / "kernels" / "birdkit-train" / "kernel-metadata.json").read_text())
    assert train["machine_shape"] == "NvidiaTeslaT4" and train["enable_gpu"] is True  # the CLI's field
    assert "your-kaggle-username/birdkit-train: GPU, machine_shape NvidiaTeslaT4, internet on" in out
    assert "your-kaggle-username/birdkit-infer: CPU, internet off" in out
    assert calls(tmp_path) == []  # a dry run calls nothing


@pytest.mark.slow
def test_push_runs_the_cli_in_order_and_attaches_weights_and_code(env, tmp_path):
    env = {**env, "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": SECRET}
    rc, out = make("push", env, tmp_path)
    assert rc == 0, out
    assert [c[:2] for c in calls(tmp_path)] == [["datasets", "version"], ["datasets", "status"],
                                                ["kernels", "push"], ["kernels", "push"]]
    assert calls(tmp_path)[0][-2:] == ["--dir-mode", "zip"]
    assert [Path(c[-1]).name for c in calls(tmp_path)[2:]] == ["birdkit-train", "birdkit-infer"]
    pushed = tmp_path / "pushed"
    infer = json.loads((pushed / "birdkit-infer" / "kernel-metadata.json").read_text())
    train = json.loads((pushed / "birdkit-train" / "kernel-metadata.json").read_text())
    assert infer["enable_internet"] is False and infer["enable_gpu"] is False
    assert {"someone/birdkit-code", "someone/birdkit-wheels"} <= set(infer["dataset_sources"])
    assert infer["kernel_sources"] == ["someone/birdkit-train"]
    assert infer["competition_sources"] == ["birdclef-2025"] and infer["is_private"] is True
    assert train["enable_gpu"] is True and train["enable_internet"] is True
    assert train["machine_shape"] == "NvidiaTeslaT4" and "machine_shape" not in infer
    assert "someone/birdkit-code" in train["dataset_sources"]
    train_nb = nbformat.read(pushed / "birdkit-train" / train["code_file"], as_version=4)
    assert 'data_source = "audio"' in parameters_cell(train_nb)
    assert "https://www.kaggle.com/code/someone/birdkit-infer" in out
    assert SECRET not in out


@pytest.mark.slow
def test_missing_dataset_is_created(env, tmp_path):
    env = {**env, "KAGGLE_USERNAME": "someone", "STANDIN_MODE": "missing"}
    rc, out = make("push", env, tmp_path, "KERNELS=train")
    assert rc == 0, out
    assert [c[:2] for c in calls(tmp_path)] == [["datasets", "version"], ["datasets", "create"],
                                                ["datasets", "status"], ["kernels", "push"]]


@pytest.mark.slow
def test_cli_error_printed_with_exit_0_fails_the_push(env, tmp_path):
    env = {**env, "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": SECRET, "STANDIN_MODE": "forbidden"}
    rc, out = make("push", env, tmp_path)
    assert rc != 0 and "403 - Forbidden" in out
    assert [c[:2] for c in calls(tmp_path)] == [["datasets", "version"]]  # nothing pushed after it
    assert SECRET not in out


@pytest.mark.slow
def test_status_and_pull_output_wrap_the_cli(env, tmp_path):
    env = {**env, "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": SECRET}
    rc, out = make("push-status", env, tmp_path)
    assert rc == 0 and 'someone/birdkit-infer has status "KernelWorkerStatus.COMPLETE"' in out, out
    rc, out2 = make("pull-output", env, tmp_path, "KERNELS=infer", f"PULL_DIR={tmp_path / 'out'}")
    assert rc == 0, out2
    assert calls(tmp_path)[-1] == ["kernels", "output", "someone/birdkit-infer", "-p",
                                   str(tmp_path / "out" / "birdkit-infer")]
    assert SECRET not in out + out2


@pytest.mark.slow
def test_push_without_a_username_stops_before_any_call(env, tmp_path):
    rc, out = make("push", env, tmp_path)
    assert rc != 0 and "no Kaggle username" in out and calls(tmp_path) == []


@pytest.mark.slow
def test_no_credential_value_in_any_output(env, tmp_path):
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "someone", "key": SECRET}))
    (config / "kaggle.json").chmod(0o644)
    env = {**env, "KAGGLE_CONFIG_DIR": str(config), "KAGGLE_KEY": SECRET, "KAGGLE_API_TOKEN": SECRET}
    outputs = [make(target, env, tmp_path, *extra)[1] for target, extra in
               [("push", ("DRY_RUN=1",)), ("push", ()), ("push-status", ()), ("push-wheels", ("DRY_RUN=1",))]]
    assert all(SECRET not in out for out in outputs)
    assert "readable by group/others" in outputs[0] and "someone/birdkit-train" in outputs[0]
    assert not (tmp_path / "staging" / "code" / "kaggle.json").exists()
    assert "pip download openvino==" in outputs[3] and "--only-binary=:all:" in outputs[3]
    for version in ("3.11", "3.12", "3.13"):  # one folder per Python Kaggle may run, each with onnxruntime too
        tag = "cp" + version.replace(".", "")
        assert f"--python-version {version} --platform manylinux_2_35_x86_64" in outputs[3]
        assert f"-d {tmp_path / 'staging' / 'wheels' / tag}" in outputs[3]
    assert "onnxruntime==" in outputs[3] and "requirements-kaggle.txt" in outputs[3]


# ---- make submit: against the stand-in taught what kaggle 2.2.5 prints ----

INFER = "someone/birdkit-infer"


def submissions(tmp_path) -> list[dict]:
    path = tmp_path / "staging" / "submissions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def pushed(tmp_path, version, kernel_id=INFER):
    """What `make push` records after `kaggle kernels push` printed this version."""
    record_push(tmp_path / "staging", {"id": kernel_id, "key": kernel_id.split("-")[-1],
                                       "url": f"https://www.kaggle.com/code/{kernel_id}"},
                f"Kernel version {version} successfully pushed.  Please check progress at "
                f"https://www.kaggle.com/code/{kernel_id}")


@pytest.fixture
def someone(env):
    return {**env, "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": SECRET}


def test_submit_prints_and_records_the_public_score(someone, tmp_path):
    pushed(tmp_path, 3)
    pushed(tmp_path, 4)
    pushed(tmp_path, 9, "someone/birdkit-train")
    rc, out = make("submit", someone, tmp_path)
    assert rc == 0, out
    message = f"birdkit {birdkit.__version__}: {INFER} version 4"
    assert calls(tmp_path) == [["competitions", "submit", "-c", "birdclef-2025", "-f", "submission.csv",
                                "-k", INFER, "-v", "4", "-m", message, "--wait"]]
    assert f"public score 0.871: {INFER} version 4 on birdclef-2025 (submission 51234567)" in out
    assert "Submission status: PENDING..." in out and SECRET not in out    # the CLI's own lines are shown
    [record] = submissions(tmp_path)
    assert {k: record[k] for k in ("competition", "kernel", "version", "status", "public_score", "message",
                                   "ref", "error")} == {
        "competition": "birdclef-2025", "kernel": INFER, "version": 4, "status": "COMPLETE",
        "public_score": 0.871, "message": message, "ref": 51234567, "error": ""}
    assert record["time"].endswith("+00:00")


@pytest.mark.parametrize("mode,status,shown", [
    ("scoring-error", "ERROR", "failed to score: Notebook Threw Exception"),
    ("scoring-error-exit0", "ERROR", "failed to score: Submission Scoring Error"),
    ("timeout", "TIMEOUT", "Timed out after 60s waiting for submission 51234567 to finish scoring; "
                           "see its score later with: kaggle competitions submission 51234567"),
])
def test_submit_without_a_score_fails_and_records_why(someone, tmp_path, mode, status, shown):
    rc, out = make("submit", {**someone, "STANDIN_SUBMIT": mode}, tmp_path, "KERNEL=birdkit-infer", "VERSION=3",
                   "MESSAGE=it's infer, v3", "SUBMIT_WAIT=60")
    assert rc != 0, out
    waiting = "no score yet for " if status == "TIMEOUT" else ""
    assert f"birdkit_tools.kaggle.push submit: {waiting}{INFER} version 3 on " \
           f"birdclef-2025 (submission 51234567)" in out and shown in out
    assert calls(tmp_path)[0][-6:] == ["-v", "3", "-m", "it's infer, v3", "--wait", "60"]
    [record] = submissions(tmp_path)
    assert (record["status"], record["public_score"], record["version"], record["ref"]) == (status, None, 3, 51234567)
    assert record["message"] == "it's infer, v3" and shown.split("; see")[0].split(": ")[-1] in record["error"]


def test_submit_dry_run_prints_the_command_only(someone, tmp_path):
    pushed(tmp_path, 2)
    rc, out = make("submit", someone, tmp_path, "DRY_RUN=1", "KAGGLE_PARAMS=params/kaggle-2026.yaml")
    assert rc == 0, out
    assert (f"$ kaggle competitions submit -c birdclef-2026 -f submission.csv -k {INFER} -v 2 -m "
            f"'birdkit {birdkit.__version__}: {INFER} version 2' --wait") in out
    assert calls(tmp_path) == [] and submissions(tmp_path) == []


def test_submit_needs_a_version(someone, tmp_path):
    rc, out = make("submit", someone, tmp_path)
    assert rc != 0 and "pass VERSION=N" in out and calls(tmp_path) == [] and submissions(tmp_path) == []
    rc, out = make("submit", someone, tmp_path, "VERSION=latest")
    assert rc != 0 and "a kernel version is a number" in out and calls(tmp_path) == []


@pytest.mark.parametrize("rc,text,status,error", [
    (0, "Submission ref: 7\nSubmission scored. Public score: (not published)\nSuccessfully submitted to X",
     "COMPLETE", ""),
    (1, "Could not find competition or notebook - please verify ...\n  Error: 404 Client Error: Not Found",
     "FAILED", "404 Client Error: Not Found (kaggle exit status 1)"),
    (0, "Submission ref: 7\nSomething new", "FAILED", "no public score in the kaggle output (exit status 0)"),
    (0, "Submission ref: 7\nSubmission status: ERROR...", "ERROR", "failed to score (no reason given)"),
])
def test_submit_output_is_read_defensively(rc, text, status, error):
    outcome = read_outcome(rc, text)
    assert outcome["status"] == status and error in outcome["error"] and outcome["public_score"] is None
    assert outcome["ref"] == (7 if "ref: 7" in text else None)


@pytest.mark.slow
def test_push_records_versions_and_submit_takes_the_last(someone, tmp_path):
    for _ in range(2):
        rc, out = make("push", someone, tmp_path, "KERNELS=infer")
        assert rc == 0, out
    assert f"https://www.kaggle.com/code/{INFER} (version 2)" in out
    rc, out = make("submit", {**someone, "STANDIN_SUBMIT": "not-published"}, tmp_path)
    assert rc == 0 and f"public score not published: {INFER} version 2" in out, out
    assert calls(tmp_path)[-1][:10] == ["competitions", "submit", "-c", "birdclef-2025", "-f", "submission.csv",
                                        "-k", INFER, "-v", "2"]
    [record] = submissions(tmp_path)
    assert (record["status"], record["version"], record["public_score"]) == ("COMPLETE", 2, None)
    before = len(calls(tmp_path))  # pushed for 2025: submitting it to 2026 stops before any call
    rc, out = make("submit", someone, tmp_path, "KAGGLE_PARAMS=params/kaggle-2026.yaml")
    assert rc != 0 and "was staged for ['birdclef-2025'], but params/kaggle-2026.yaml names 'birdclef-2026'" in out
    assert len(calls(tmp_path)) == before and len(submissions(tmp_path)) == 1


def test_credentials_file_readable_by_others_is_reported(tmp_path):
    config = tmp_path / "cfg"
    config.mkdir()
    creds = config / "kaggle.json"
    creds.write_text(json.dumps({"username": "someone", "key": SECRET}))
    env = {"HOME": str(tmp_path), "KAGGLE_CONFIG_DIR": str(config)}
    creds.chmod(0o644)
    warnings = credential_warnings(env)
    assert len(warnings) == 1 and str(creds) in warnings[0] and "readable by group/others" in warnings[0]
    assert SECRET not in warnings[0] and kaggle_username(env) == "someone"
    creds.chmod(0o600)
    assert credential_warnings(env) == []
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600


@pytest.fixture
def kernel_folder(tmp_path):
    (tmp_path / "k.ipynb").write_text(json.dumps({"cells": [], "metadata": {"kernelspec": {"name": "python3"}},
                                                  "nbformat": 4, "nbformat_minor": 5}))
    return tmp_path


def good_kernel(**changes):
    meta = {"id": "someone/birdkit-infer", "title": "Birdkit Infer", "code_file": "k.ipynb",
            "language": "python", "kernel_type": "notebook", "is_private": True, "enable_internet": False,
            "dataset_sources": ["someone/birdkit-code"], "kernel_sources": ["someone/birdkit-train"],
            "competition_sources": ["birdclef-2025"]}
    return {**meta, **changes}


@pytest.mark.parametrize("changes,message", [
    ({"title": "abc"}, "title 'abc' is shorter than 5 characters"),
    ({"title": "Birdkit Inference"}, "slugifies to 'birdkit-inference', not to the id's slug 'birdkit-infer'"),
    ({"code_file": "missing.ipynb"}, "code_file 'missing.ipynb' not found"),
    ({"language": "julia"}, "language 'julia' must be one of"),
    ({"kernel_type": "book"}, "kernel_type 'book' must be one of"),
    ({"id": "birdkit-infer"}, "id 'birdkit-infer' must be"),
    ({"dataset_sources": ["birdkit-code"]}, "dataset_sources entry 'birdkit-code' must have the form"),
    ({"kernel_sources": ["a/b/c/d"]}, "kernel_sources entry 'a/b/c/d'"),
    ({"enable_internet": "no"}, "enable_internet 'no' is not a boolean"),
    ({"enable_gpu": True, "machine_shape": "NvidiaTeslaP100"}, "machine_shape 'NvidiaTeslaP100' is retired"),
    ({"enable_gpu": True, "machine_shape": "TpuV5E8"}, "machine_shape 'TpuV5E8' must be one of ('NvidiaTeslaT4'"),
    ({"machine_shape": "NvidiaTeslaT4"}, "machine_shape 'NvidiaTeslaT4' needs enable_gpu true"),
])
def test_kernel_validation_names_file_and_field(kernel_folder, changes, message):
    validate_kernel_metadata(good_kernel(), kernel_folder)
    validate_kernel_metadata(good_kernel(enable_gpu=True, machine_shape="NvidiaTeslaT4"), kernel_folder)
    with pytest.raises(MetadataError) as err:
        validate_kernel_metadata(good_kernel(**changes), kernel_folder)
    assert str(err.value).startswith(f"{kernel_folder / 'kernel-metadata.json'}: ") and message in str(err.value)


@pytest.mark.parametrize("changes,message", [
    ({"title": "Code"}, "title 'Code' must be 6 to 50 characters"),
    ({"id": "someone/code"}, "id slug 'code' must be 6 to 50 characters"),
    ({"licenses": []}, "licenses must hold exactly one"),
    ({"subtitle": "short"}, "subtitle must be 20 to 80 characters"),
])
def test_dataset_validation_names_the_field(changes, message):
    good = {"id": "someone/birdkit-code", "title": "Birdkit Code", "licenses": [{"name": "CC0-1.0"}]}
    validate_dataset_metadata(good)
    with pytest.raises(MetadataError, match="dataset-metadata.json: ") as err:
        validate_dataset_metadata({**good, **changes})
    assert message in str(err.value)
