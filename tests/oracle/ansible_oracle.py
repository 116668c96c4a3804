#!/usr/bin/env python3
"""Ask real ansible-core what `ansible-inventory -i PATH --list --export` prints, for many PATHs
in one process.

One `ansible-inventory` process costs about a second; the differential tests ask hundreds of
questions per run. This script runs the very code path of the `ansible-inventory` console script
(`InventoryCLI.cli_executor`, which parses the arguments, builds the InventoryManager, and prints
`json_inventory` through the CLI's own JSON encoder) once per path, in-process, with stdout and
stderr captured, and resets the few process-wide singletons that would otherwise leak one
question's answer into the next.

Usage (run with the python of the ansible-core virtualenv, see scripts/setup-ansible):

    echo '["inv.d", "inventory.ini"]' | python ansible_oracle.py [--subprocess]

stdout: one JSON object per path, in order, one per line:
    {"ok": <the JSON ansible-inventory printed>}    exit status 0
    {"error": "<everything ansible printed on stderr: the error and its underlying cause>"}

`--subprocess` answers the same questions by running the real `ansible-inventory` executable
once per path with the same environment; a test compares both modes so the in-process oracle
cannot drift from the real tool.

Ansible is isolated from the machine's configuration: ANSIBLE_CONFIG names an empty file,
ANSIBLE_HOME is a fresh temporary folder, every other inherited ANSIBLE_* variable is dropped,
only the `ini` inventory plugin is enabled, any source that fails to parse is fatal, and
PYTHONHASHSEED=0 (the script re-executes itself to set it).

Non-finite floats (`1e999` in an INI file is a float infinity) are valid Python JSON but not
JSON: they are written as {"$nonfinite": "Infinity" | "-Infinity" | "NaN"}.
"""

import json
import math
import os
import sys
import tempfile

MARK = "VM_ANSIBLE_ORACLE_ENV"


def isolate_environment():
    """Re-execute this script with a clean, fixed environment (must happen before Python
    starts hashing strings, and before ansible reads its configuration at import)."""
    if os.environ.get(MARK) == "1":
        return
    home = tempfile.mkdtemp(prefix="vm-ansible-oracle-")
    config = os.path.join(home, "ansible.cfg")
    open(config, "w").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            MARK: "1",
            "PYTHONHASHSEED": "0",
            "ANSIBLE_CONFIG": config,
            "ANSIBLE_HOME": os.path.join(home, "home"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"),
            "ANSIBLE_INVENTORY_ENABLED": "ini",
            "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
            "VM_ANSIBLE_ORACLE_TMP": home,
        }
    )
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def jsonable(value):
    """Python's json accepts Infinity/NaN, JSON does not: tag them."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return {"$nonfinite": text}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def result(code, stdout, stderr):
    if code == 0:
        try:
            return {"ok": jsonable(json.loads(stdout))}
        except ValueError as ex:
            return {"error": f"ansible-inventory exited 0 but printed no JSON ({ex}): {stdout!r} {stderr}"}
    return {"error": stderr.strip() or f"ansible-inventory exited {code} and printed nothing on stderr"}


def args_for(path):
    return ["ansible-inventory", "-i", path, "--list", "--export"]


def in_process():
    import io
    import warnings

    # Importing ansible.cli first is what the console script does too.
    from ansible.cli.inventory import InventoryCLI
    from ansible.parsing.vault import VaultSecretsContext
    from ansible.utils.context_objects import GlobalCLIArgs
    from ansible.utils.display import Display

    # The second and later runs re-install the (already installed) collection loader;
    # ansible says so with a Python warning meant for its own sanity tests.
    warnings.filterwarnings("ignore", message="AnsibleCollectionFinder has already been configured")
    display = Display()  # a singleton: the instance the CLI writes through

    def ask(path):
        # Process-wide state that must not carry over from one question to the next:
        # the parsed CLI arguments (a singleton that ignores re-creation), the vault
        # secrets context (initialised once per process), and the sets Display uses to
        # print each warning or error only once per process.
        GlobalCLIArgs._Singleton__instance = None
        VaultSecretsContext._current = None
        display._warns.clear()
        display._errors.clear()
        display._deprecations.clear()
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr, sys.argv
        sys.stdout, sys.stderr = out, err
        sys.argv = args_for(path)
        try:
            InventoryCLI.cli_executor(args_for(path))
            code = 0
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
        finally:
            # The real stdout is UTF-8 with ansible's error handler, which turns text it
            # cannot encode (surrogates from non-UTF-8 input) into "?": do the same.
            printed = out.getvalue().encode("utf-8", "_replacing_warning_handler").decode("utf-8")
            sys.stdout, sys.stderr, sys.argv = saved
        return result(code, printed, err.getvalue().encode("utf-8", "replace").decode("utf-8"))

    return ask


def subprocess_mode():
    import subprocess

    exe = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")

    def ask(path):
        proc = subprocess.run(
            [exe] + args_for(path)[1:], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        return result(proc.returncode, proc.stdout, proc.stderr)

    return ask


def main():
    isolate_environment()
    import atexit
    import shutil

    atexit.register(shutil.rmtree, os.environ["VM_ANSIBLE_ORACLE_TMP"], ignore_errors=True)
    paths = json.load(sys.stdin)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        sys.exit("ansible_oracle.py: expected a JSON list of paths on stdin")
    ask = subprocess_mode() if "--subprocess" in sys.argv[1:] else in_process()
    real_stdout = sys.stdout
    for path in paths:
        real_stdout.write(json.dumps(ask(path), ensure_ascii=False) + "\n")
        real_stdout.flush()


if __name__ == "__main__":
    main()
