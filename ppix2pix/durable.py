"""Durable file updates: a renamed, linked or copied file must survive a power loss, not only its bytes.

``fsync`` of a file makes its data durable; the rename or link that gives it its name is an entry of the folder, made
durable only by syncing the folder too.
"""
import os
import shutil


def sync_folder(folder):
    """fsync ``folder`` so that the renames and links made in it are on disk (Windows cannot open a folder; NTFS
    journals its renames)."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def copy_synced(source, target):
    """Copy the file ``source`` to ``target`` and fsync the copy's data."""
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        os.fsync(handle.fileno())
