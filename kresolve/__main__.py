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
            # imports; h5worker adopts it when first asked. Other words are not HDF5 files. The
            # launcher imports only the standard library: the reader starts ~20 ms into the process
            # rather than after the kresolve.artifact package has imported.
            from ._h5start import prestart_for

            for word in sys.argv[2:]:
                if not word.startswith("-"):
                    prestart_for(word)

        from .cli import main as cli_main
    finally:
        gc.freeze()
        gc.enable()
    if sys.argv[1:2] == ["lock"] and "--offline" not in sys.argv:
        _warm_http_stack()
    code = cli_main()
    if sys.argv[1:2] in FAST_EXIT:
        _exit_now(code)
    return code


def _warm_http_stack() -> None:
    """A lock on an empty cache will fetch pages: httpx (~0.15 s of CPU to import) is imported
    now in a thread, while the main thread parses arguments, loads the rules and waits for the
    HDF5 reader, instead of in the first page request. A cache with pages may need no request
    at all (fresh pages, or --offline): nothing is imported for it. A failed import is left for
    the first request to report."""
    from .index.cache import default_cache_dir

    if (default_cache_dir() / "pages").is_dir():
        return

    def load() -> None:
        from .index.client import load_httpx

        try:
            load_httpx()
        except ImportError:  # the request that needs httpx imports it again and says why
            pass

    threading.Thread(target=load, name="kresolve-warm-http", daemon=True).start()


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
