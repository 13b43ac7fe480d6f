"""A static index.html that shows translation results side by side in a table."""
import html
import os
from urllib.parse import quote

import cv2
import numpy as np

from ..data.image_io import to_channels, to_uint8, to_unit_float, write_image

THUMBNAIL_SIDE = 256
THUMBNAIL_FOLDER = "index_files"
INDEX_FILE = "index.html"


def display_image(image):
    """Any H x W x C image (uint8, uint16, float in [0, 1]; 1 or 3 channels) -> H x W x 3 uint8 for viewing."""
    return to_channels(to_uint8(to_unit_float(image)), 3)


def thumbnail_path(relative_path, role):
    """Path, relative to the output folder, of the ``role`` thumbnail of the image at ``relative_path``; the name
    keeps the image's extension, so ``a.png`` and ``a.jpg`` get thumbnails of their own."""
    return os.path.join(THUMBNAIL_FOLDER, f"{relative_path}.{role}.jpg")


def write_thumbnail(output_dir, relative_path, role, image):
    """Save a small JPEG of ``image`` at :func:`thumbnail_path` and return that path."""
    image = display_image(image)
    scale = THUMBNAIL_SIDE / max(image.shape[:2])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    relative = thumbnail_path(relative_path, role)
    write_image(os.path.join(output_dir, relative), np.ascontiguousarray(image))
    return relative


def _link(path):
    return quote(path.replace(os.sep, "/"))


def write_index(output_dir, title, columns, rows):
    """Write ``output_dir/index.html``: one row per image with its name and a thumbnail per column.

    ``rows`` are ``(name, {column: thumbnail path}, link target)`` with paths relative to ``output_dir``.
    """
    lines = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif} td,th{padding:4px;text-align:center;vertical-align:top}"
             " img{max-width:256px;max-height:256px}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", "<table>",
             "<tr><th>image</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"]
    for name, thumbnails, target in rows:
        cells = [f"<td><a href='{_link(target)}'>{html.escape(name)}</a></td>"]
        for column in columns:
            path = thumbnails.get(column)
            cells.append(f"<td><img src='{_link(path)}' alt='{html.escape(column)}'></td>" if path else "<td></td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</table>", "</body></html>"]
    path = os.path.join(output_dir, INDEX_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
