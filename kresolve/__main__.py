"""`python -m kresolve` and the `kresolve` console script: start slow readers early, then the CLI."""

import sys


def main() -> int:
    if sys.argv[1:2] in (["lock"], ["inspect"]):
        # An HDF5 model: its reader process (h5py, NumPy: a few hundred ms) starts now, while the CLI
        # imports; api.lock's own prestart_for then finds it running. Other words are not HDF5 files.
        from .artifact.h5worker import prestart_for

        for word in sys.argv[2:]:
            if not word.startswith("-"):
                prestart_for(word)

    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
