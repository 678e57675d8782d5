"""Caps on everything the readers take from a file.

A model file is untrusted input: every size, count and nesting depth read from it is checked
against one of these before memory is spent on it, so a hostile or corrupt file gets a clear
refusal instead of exhausting memory or recursion.
"""

from __future__ import annotations

MiB = 1024 * 1024

# JSON text (HDF5 attributes, .keras members, keras_metadata strings, sidecars).
MAX_JSON_BYTES = 64 * MiB
# Nesting of JSON values; real Keras configs stay well below 100 (nested sub-models included).
MAX_JSON_DEPTH = 200
# Protobuf files we read whole: saved_model.pb may hold a frozen graph, and protobuf itself
# refuses messages over 2 GiB.
MAX_PROTO_BYTES = 2048 * MiB
MAX_KERAS_METADATA_BYTES = 256 * MiB
# Message nesting the wire decoder follows (the SavedModel schema needs < 10).
MAX_PROTO_DEPTH = 32
# .keras zips hold three members (plus assets); anything near these limits is not a model.
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_CENTRAL_DIR_BYTES = 16 * MiB
MAX_METADATA_JSON_BYTES = 1 * MiB
# Deflate reaches ~1000:1 on degenerate input; real JSON configs compress < 50:1.
MAX_COMPRESSION_RATIO = 200
# Sidecar probe tensors are small by design (a few rows to compare outputs).
MAX_PROBE_ELEMENTS = 1_000_000
MAX_SIDECAR_BYTES = 64 * MiB
# Lambda bytecode blobs; Keras functions are a few KiB.
MAX_BYTECODE_CHARS = 16 * MiB
# Files and folders walked in a model directory when checking it for symbolic links that leave
# it (a SavedModel holds a handful, an unpacked .keras three), and how deep the walk goes.
MAX_DIR_ENTRIES = 10_000
MAX_DIR_DEPTH = 32
# JSON files read beside a weights-only HDF5 file when looking for its architecture JSON.
MAX_ARCHITECTURE_CANDIDATES = 20
# ... and the largest of those other JSON files read (a to_json() file is KiB to a few MiB).
MAX_ARCHITECTURE_SCAN_BYTES = 16 * MiB
# Entries listed when telling the user what a directory or archive holds.
LIST_PREVIEW = 5
# Source distributions read at lock time for their dependencies (never unpacked to disk, never
# run). The sdists kresolve needs (gast, wrapt, termcolor) are < 100 KiB; numpy's are ~15 MiB.
MAX_SDIST_BYTES = 64 * MiB
MAX_SDIST_UNPACKED_BYTES = 512 * MiB
MAX_SDIST_MEMBERS = 50_000
# PKG-INFO, requires.txt, setup.py, setup.cfg, pyproject.toml: text files of a few KiB.
MAX_SDIST_METADATA_MEMBER_BYTES = 4 * MiB
