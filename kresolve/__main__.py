"""`python -m kresolve` and the `kresolve` console script: start slow readers early, then the CLI."""

import atexit
import gc
import os
import sys
import threading

# Commands whose process ends by skipping the interpreter's teardown (see _exit_now).
FAST_EXIT = (["lock"], ["inspect"])


def main() -> int:
    # Imports make a few hundred thousand long-lived objects (modules, classes, functions) and no
    # garbage worth collecting; the collector scanning them again and again took ~0.1 s of a warm
    # lock's ~1 s of CPU. So it is off while they load, and what they made is then frozen out of
    # its reach (gc.freeze); it runs as usual for the command itself.
    gc.disable()
    try:
        if sys.argv[1:2] in (["lock"], ["inspect"], ["smoke"]):
            # An HDF5 model: its reader process (h5py, NumPy: a few hundred ms) starts now, while the CLI
            # imports; api.lock's own prestart_for then finds it running. Other words are not HDF5 files.
            from .artifact.h5worker import prestart_for

            for word in sys.argv[2:]:
                if not word.startswith("-"):
                    prestart_for(word)

        from .cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    code = cli_main()
    if sys.argv[1:2] in FAST_EXIT:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process now, as the interpreter would but without its teardown: freeing every
    module and object of a run took 50-100 ms of a warm lock. What the teardown does that
    matters is done here: other threads are done (else the usual exit, which waits for them),
    the exit handlers run (the HDF5 reader is ended, temporary directories removed) and
    stdout/stderr are flushed (a closed pipe: the usual exit, which reports it as it always has).
    Not after a fleet run (`lock A B C`): the scan machinery keeps its journal file open."""
    if "kresolve.scan.core" in sys.modules:
        return
    if any(not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
