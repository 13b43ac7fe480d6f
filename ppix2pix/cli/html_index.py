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
ROWS_PER_PAGE = 50
METRICS_NOTE = ("L1: mean |output - target| on the [-1, 1] scale (twice the [0, 1] error); PSNR and SSIM on 8-bit "
                "images; each output scored as written")


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


def page_file(number):
    """File name of results page ``number`` (1-based): index.html, index_2.html, ..."""
    return INDEX_FILE if number == 1 else f"index_{number}.html"


def page_count(rows, rows_per_page=ROWS_PER_PAGE):
    return max(1, -(-rows // rows_per_page))


def format_scores(scores):
    """Cells of one image's (or the mean's) metrics, as shown on the page."""
    return [f"{scores['l1']:.4f}", f"{scores['psnr']:.2f}", f"{scores['ssim']:.4f}"]


def _mean_line(mean):
    l1, psnr, ssim = format_scores(mean)
    return (f"<p class='mean'>mean over {mean['count']} images: L1 <b>{l1}</b> &middot; PSNR <b>{psnr}</b> dB "
            f"&middot; SSIM <b>{ssim}</b> <small>({html.escape(METRICS_NOTE)})</small></p>")


def _navigation(number, pages):
    if pages == 1:
        return ""
    links = [f"<a rel='prev' href='{page_file(number - 1)}'>&larr; previous</a>" if number > 1 else "",
             f"page {number} of {pages}",
             f"<a rel='next' href='{page_file(number + 1)}'>next &rarr;</a>" if number < pages else ""]
    return "<p class='pages'>" + " &nbsp; ".join(link for link in links if link) + "</p>"


def _row(name, thumbnails, target, scores, columns):
    cells = [f"<td><a href='{_link(target)}'>{html.escape(name)}</a></td>"]
    for column in columns:
        path = thumbnails.get(column)
        cells.append(f"<td><img src='{_link(path)}' alt='{html.escape(column)}' loading='lazy'></td>" if path
                     else "<td></td>")
    if scores is not None:
        cells += [f"<td class='metric'>{cell}</td>" for cell in format_scores(scores)]
    return "<tr>" + "".join(cells) + "</tr>"


def _page(title, header, columns, rows, mean, navigation):
    metric_headers = ["L1", "PSNR (dB)", "SSIM"] if mean else []
    lines = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif} td,th{padding:4px;text-align:center;vertical-align:top}"
             " img{max-width:256px;max-height:256px} td.metric{font-family:monospace;vertical-align:middle}"
             "</style></head><body>", f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(header)}</p>"]
    if mean:
        lines.append(_mean_line(mean))
    lines += [navigation, "<table>", "<tr><th>image</th>" + "".join(
        f"<th>{html.escape(c)}</th>" for c in columns + metric_headers) + "</tr>"]
    lines += [_row(*row, columns) for row in rows]
    lines += ["</table>", navigation, "</body></html>"]
    return "\n".join(lines) + "\n"


def write_index(output_dir, title, columns, rows, header="", mean=None, rows_per_page=ROWS_PER_PAGE):
    """Write the results pages ``output_dir/index.html`` (then ``index_2.html``, ... every ``rows_per_page`` rows,
    linked by previous/next) and return the first one's path.

    ``rows`` are ``(name, {column: thumbnail path}, link target, scores)`` with paths relative to ``output_dir``;
    ``scores`` is the image's ``{'l1', 'psnr', 'ssim'}`` or None. ``mean`` (the same keys and ``count``), when
    given, is shown at the top of every page and adds the metric columns. ``title`` is the one-line description of
    the task, ``header`` a line of details under it.
    """
    pages = page_count(len(rows), rows_per_page)
    for number in range(1, pages + 1):
        chunk = rows[(number - 1) * rows_per_page:number * rows_per_page]
        text = _page(title, header, columns, chunk, mean, _navigation(number, pages))
        with open(os.path.join(output_dir, page_file(number)), "w", encoding="utf-8") as handle:
            handle.write(text)
    return os.path.join(output_dir, INDEX_FILE)
